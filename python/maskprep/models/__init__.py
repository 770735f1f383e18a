"""Mask R-CNN through torchvision, with maskprep's paste and RoI Align: COCO RLE out.

:class:`MaskRCNN` wraps ``torchvision.models.detection.maskrcnn_resnet50_fpn`` (``arch="v1"``)
and ``maskrcnn_resnet50_fpn_v2`` (``"v2"``). It runs torchvision's own transform, backbone, RPN
and RoI heads, so boxes, labels and scores are torchvision's, but it stops before
``GeneralizedRCNNTransform.postprocess``: instead of pasting every 28 x 28 mask into a dense
float (N, H, W) image, it scales the boxes back exactly as torchvision does and pastes straight
into COCO RLE with :func:`maskprep.paste.paste_masks` (the same pixels as torchvision's masks
``>= 0.5``). On CPU the RoI poolers also run maskprep's multi-threaded RoI Align, and the
ResNet body runs its batch norms in place and its stem max pooling on maskprep's kernel: each
is bit identical to what it replaces, so boxes, scores and masks stay torchvision's.

torch and torchvision are imported when a model is created (``pip install 'maskprep[torch]'``).
No weights are downloaded unless a torchvision registry name is asked for.

One module per concern: :mod:`maskprep.models.mask_rcnn` (the wrapper),
:mod:`maskprep.models.layers` (the bit-identical layer swaps) and :mod:`maskprep.models.weights`
(state_dict files and torchvision registry names).
"""

from __future__ import annotations

from .mask_rcnn import MaskRCNN

__all__ = ["MaskRCNN"]
