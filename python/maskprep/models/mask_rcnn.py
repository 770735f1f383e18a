"""The :class:`MaskRCNN` wrapper: torchvision's model, stopped before its dense mask paste, masks
pasted straight into COCO RLE."""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Union

import numpy as np

from ..paste import paste_masks
from .layers import _freeze_batch_norms, _lean_layers, _pooler_class
from .weights import state_dict_for

_ARCHS = ("v1", "v2")


_INSTALL_HINT = "pip install 'maskprep[torch]'"


def _import_torch():
    try:
        import torch
        import torchvision
    except ImportError as e:
        raise ImportError(
            f"maskprep.models needs torch and torchvision: {_INSTALL_HINT} ({e})"
        ) from e
    return torch, torchvision


class MaskRCNN:
    """torchvision's Mask R-CNN (ResNet-50 FPN) with masks returned as COCO RLE.

    Parameters
    ----------
    arch : {"v1", "v2"}
        ``maskrcnn_resnet50_fpn`` or ``maskrcnn_resnet50_fpn_v2``.
    weights : None, str or os.PathLike
        None for random weights (``seed`` makes them reproducible); a path to a ``state_dict``
        saved with ``torch.save(model.state_dict(), path)`` (a dict holding it under
        ``"model"`` or ``"state_dict"`` works too); or a torchvision registry name,
        ``"COCO_V1"``, ``"DEFAULT"`` or ``"MaskRCNN_ResNet50_FPN_Weights.COCO_V1"``, fetched from
        torch's hub cache or downloaded.
    seed : int, optional
        Seed for the random initialisation when ``weights`` is None (the global torch RNG is
        left as it was).
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    num_classes : int
        Classes including background (91 for COCO; registry weights need 91).
    fp16 : bool
        Run under float16 autocast on CUDA (ignored on CPU, where autocast is slower).
    min_size, max_size : int
        torchvision's resize of the input (the shorter side to min_size, the longer at most
        max_size).
    box_score_thresh : float
        The model's default score threshold (torchvision's, 0.05); ``predict`` can override it
        per call.
    detections_per_img : int
        At most this many detections per image.
    maskprep_roi_align : bool
        Use maskprep's RoI Align for the CPU RoI poolers.
    maskprep_backbone : bool
        On CPU, run the batch norms that follow convolutions in place (the ResNet body's; with
        v2 also the FPN's and the heads') and the stem max pooling on maskprep's kernel (the same
        bits, about 0.2 s less per 800 x 1216 image on two cores). The batch norms overwrite the
        convolution outputs they normalise, so a forward hook that keeps a ``conv`` output sees
        it normalised; pass False then.
    frozen_batch_norm : bool, optional
        Use torchvision's FrozenBatchNorm2d in the ResNet body (v1), as torchvision's
        ``maskrcnn_resnet50_fpn`` does whenever it is built with pretrained weights; its rounding
        differs slightly from BatchNorm2d's. None (default): True for v1 registry weights (with
        torchvision's eps of 0 for COCO_V1), else False, which is what torchvision builds with
        ``weights=None, weights_backbone=None``.
    num_threads : int, optional
        Threads for maskprep's kernels (None = the process budget).
    **model_kwargs
        Passed to torchvision's builder (e.g. ``rpn_post_nms_top_n_test``).

    Attributes
    ----------
    model : torch.nn.Module
        The torchvision ``MaskRCNN`` module, in eval mode on ``device``.
    device : torch.device
        The device in use.

    Raises
    ------
    ImportError
        Without torch and torchvision (``pip install 'maskprep[torch]'``).
    ValueError
        An unknown ``arch`` or ``device``, CUDA asked for but absent, a weights file without a
        state_dict, an unknown registry name or one for the other arch, registry weights with
        ``num_classes`` other than theirs.
    RuntimeError
        Registry weights that cannot be fetched (offline): pass a downloaded file's path.

    Examples
    --------
    >>> import numpy as np
    >>> model = MaskRCNN(seed=0, device="cpu", min_size=64, max_size=64)
    >>> result = model.predict([np.zeros((48, 64, 3), np.uint8)])[0]
    >>> sorted(result), result["boxes"].shape[1:]
    (['boxes', 'labels', 'masks', 'scores'], (4,))
    """

    def __init__(
        self,
        arch: str = "v1",
        weights: Union[None, str, os.PathLike] = None,
        *,
        seed: Optional[int] = None,
        device: str = "auto",
        num_classes: int = 91,
        fp16: bool = False,
        min_size: int = 800,
        max_size: int = 1333,
        box_score_thresh: float = 0.05,
        detections_per_img: int = 100,
        maskprep_roi_align: bool = True,
        maskprep_backbone: bool = True,
        frozen_batch_norm: Optional[bool] = None,
        num_threads: Optional[int] = None,
        **model_kwargs: Any,
    ) -> None:
        torch, torchvision = _import_torch()
        if arch not in _ARCHS:
            raise ValueError(f"arch must be 'v1' or 'v2', got {arch!r}")
        self.arch = arch
        self.device = self._device(torch, device)
        self.fp16 = bool(fp16)
        self.num_threads = num_threads
        d = torchvision.models.detection
        builder = d.maskrcnn_resnet50_fpn if arch == "v1" else d.maskrcnn_resnet50_fpn_v2
        kwargs = dict(
            weights=None,
            weights_backbone=None,
            num_classes=num_classes,
            min_size=min_size,
            max_size=max_size,
            box_score_thresh=box_score_thresh,
            box_detections_per_img=detections_per_img,
            **model_kwargs,
        )
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            model = builder(**kwargs)
        state_dict, entry = (None, None)
        if weights is not None:
            state_dict, entry = state_dict_for(torch, torchvision, weights, arch, num_classes)
        if frozen_batch_norm is None:
            frozen_batch_norm = entry is not None and arch == "v1"
        if frozen_batch_norm:
            _freeze_batch_norms(model.backbone.body)
        if state_dict is not None:
            model.load_state_dict(state_dict)
        if entry is not None and arch == "v1" and entry.name == "COCO_V1":
            # as maskrcnn_resnet50_fpn(weights=COCO_V1) does (its overwrite_eps)
            from torchvision.ops.misc import FrozenBatchNorm2d

            for module in model.modules():
                if isinstance(module, FrozenBatchNorm2d):
                    module.eps = 0.0
        if maskprep_backbone:
            _lean_layers(model, num_threads)
        if maskprep_roi_align:
            pooler = _pooler_class()
            heads = model.roi_heads
            heads.box_roi_pool = pooler(heads.box_roi_pool, num_threads)
            heads.mask_roi_pool = pooler(heads.mask_roi_pool, num_threads)
        self.model = model.eval().to(self.device)

    # ---- construction helpers ------------------------------------------------------------------

    @staticmethod
    def _device(torch, device: str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {device!r} was asked for but CUDA is not available")
        return torch.device(device)

    # ---- inputs --------------------------------------------------------------------------------

    def _image_tensor(self, torch, image: Any, index: int):
        """(3, H, W) float tensor in [0, 1] on the device, from an (H, W, 3) uint8 array or a
        torchvision-style (3, H, W) tensor (float in [0, 1], or uint8)."""
        name = f"images[{index}]"
        if isinstance(image, torch.Tensor):
            if image.ndim != 3 or image.shape[0] != 3:
                raise ValueError(f"{name} must be a (3, H, W) tensor, got {tuple(image.shape)}")
            if image.dtype == torch.uint8:
                image = image.float() / 255
            elif not image.is_floating_point():
                raise ValueError(f"{name} must be uint8 or floating point, got {image.dtype}")
            t = image
        else:
            a = np.asarray(image)
            if a.dtype != np.uint8:
                raise ValueError(f"{name} must be uint8, got dtype {a.dtype}")
            if a.ndim != 3 or a.shape[2] != 3:
                raise ValueError(f"{name} must have shape (H, W, 3), got {a.shape}")
            if not a.flags.writeable:  # e.g. from PIL; torch warns on read-only buffers
                a = a.copy()
            t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 255
        if t.shape[1] == 0 or t.shape[2] == 0:
            raise ValueError(f"{name} is empty: shape {tuple(image.shape)}")
        return t.to(self.device, torch.float32)

    def _images(self, images: Any) -> list:
        if isinstance(images, (list, tuple)):
            return list(images)
        if getattr(images, "ndim", None) == 3:
            return [images]
        raise ValueError("images must be a list of (H, W, 3) uint8 arrays or (3, H, W) tensors")

    def _autocast(self, torch):
        enabled = self.fp16 and self.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.float16, enabled=enabled)

    # ---- inference -----------------------------------------------------------------------------

    def _run(self, torch, tensors: list, score_threshold: Optional[float]) -> list:
        """torchvision's GeneralizedRCNN.forward up to (not including) transform.postprocess."""
        m = self.model
        heads = m.roi_heads
        saved = heads.score_thresh
        if score_threshold is not None:
            heads.score_thresh = float(score_threshold)
        try:
            with torch.inference_mode(), self._autocast(torch):
                images, _ = m.transform(tensors)
                features = m.backbone(images.tensors)
                proposals, _ = m.rpn(images, features)
                detections, _ = heads(features, proposals, images.image_sizes)
        finally:
            heads.score_thresh = saved
        return [(d, s) for d, s in zip(detections, images.image_sizes)]

    def predict(
        self,
        images: Any,
        *,
        score_threshold: Optional[float] = None,
        batch_size: int = 1,
    ) -> list[dict[str, Any]]:
        """Detect and segment instances.

        Parameters
        ----------
        images : list of arrays or tensors
            (H, W, 3) uint8 RGB arrays, or (3, H, W) tensors (float in [0, 1] or uint8), of any
            sizes; one array is taken as a list of one.
        score_threshold : float, optional
            Keep detections scoring above this (torchvision's strict ``>``); None uses the model's
            ``box_score_thresh``.
        batch_size : int
            Images per forward pass.

        Returns
        -------
        list of dict
            Per image: ``boxes`` (N, 4) float32 x1, y1, x2, y2 in the image's pixels, ``labels``
            (N,) int64, ``scores`` (N,) float32, ``masks``: N COCO RLE dicts (compressed) of the
            image's size: torchvision's pasted masks ``>= 0.5``.

        Raises
        ------
        ValueError
            Images of the wrong shape or dtype, empty images, a ``batch_size`` below 1.

        Examples
        --------
        >>> import numpy as np
        >>> model = MaskRCNN(seed=0, device="cpu", min_size=64, max_size=64)
        >>> [r["boxes"].dtype for r in model.predict([np.zeros((48, 64, 3), np.uint8)] * 2)]
        [dtype('float32'), dtype('float32')]
        """
        torch, _ = _import_torch()
        from torchvision.models.detection.transform import resize_boxes

        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        items = self._images(images)
        tensors = [self._image_tensor(torch, im, i) for i, im in enumerate(items)]
        out = []
        for start in range(0, len(tensors), batch_size):
            batch = tensors[start : start + batch_size]
            for t, (det, resized) in zip(batch, self._run(torch, batch, score_threshold)):
                size = (int(t.shape[1]), int(t.shape[2]))
                boxes = resize_boxes(det["boxes"].float(), resized, size)
                probs = det["masks"][:, 0].float()
                out.append(
                    {
                        "boxes": boxes.cpu().numpy(),
                        "labels": det["labels"].cpu().numpy(),
                        "scores": det["scores"].float().cpu().numpy(),
                        "masks": paste_masks(
                            probs.cpu().numpy(),
                            boxes.cpu().numpy(),
                            size,
                            output="rle",
                            num_threads=self.num_threads,
                        ),
                    }
                )
        return out

    def refine_boxes(
        self, image: Any, boxes: Any, *, labels: Optional[Sequence[int]] = None
    ) -> list[dict[str, Any]]:
        """One instance mask per given box: the backbone and the mask head only (no RPN, no box
        head), i.e. Mask R-CNN used to turn boxes into masks.

        Parameters
        ----------
        image : array or tensor
            One (H, W, 3) uint8 array or (3, H, W) tensor.
        boxes : array-like
            (K, 4) x1, y1, x2, y2 in the image's pixels.
        labels : sequence of int, optional
            (K,) class of each box, selecting its mask channel; None takes, per pixel, the largest
            foreground-class probability (a class-agnostic mask).

        Returns
        -------
        list of dict
            K COCO RLE dicts (compressed) of the image's size, pasted as torchvision pastes
            detections (so each lies within its box expanded by (M+2)/M).

        Raises
        ------
        ValueError
            Boxes that are not a finite real (K, 4) array, labels of the wrong length or outside
            the model's classes, a bad image.

        Examples
        --------
        >>> import numpy as np
        >>> model = MaskRCNN(seed=0, device="cpu", min_size=64, max_size=64)
        >>> [m["size"] for m in model.refine_boxes(np.zeros((48, 64, 3), np.uint8), [[4, 4, 20, 30]])]
        [[48, 64]]
        """
        torch, _ = _import_torch()
        from torchvision.models.detection.transform import resize_boxes

        t = self._image_tensor(torch, image, 0)
        size = (int(t.shape[1]), int(t.shape[2]))
        b = np.asarray(boxes.cpu() if isinstance(boxes, torch.Tensor) else boxes)
        if b.ndim != 2 or b.shape[1] != 4 or b.dtype.kind not in "fiu":
            raise ValueError(f"boxes must be a real (K, 4) array, got shape {b.shape}")
        if not np.isfinite(b).all():
            raise ValueError("boxes must be finite")
        b = b.astype(np.float32)
        if labels is not None:
            lab = np.asarray(labels, dtype=np.int64).reshape(-1)
            if len(lab) != len(b):
                raise ValueError(f"labels must have one entry per box ({len(b)}), got {len(lab)}")
            n_classes = self.model.roi_heads.mask_predictor.mask_fcn_logits.out_channels
            if len(lab) and (lab.min() < 0 or lab.max() >= n_classes):
                raise ValueError(f"labels must lie in [0, {n_classes}), got {lab.tolist()}")
        if len(b) == 0:
            return []
        m = self.model
        with torch.inference_mode(), self._autocast(torch):
            images, _ = m.transform([t])
            features = m.backbone(images.tensors)
            scaled = resize_boxes(torch.from_numpy(b).to(self.device), size, images.image_sizes[0])
            heads = m.roi_heads
            x = heads.mask_roi_pool(features, [scaled], images.image_sizes)
            logits = heads.mask_predictor(heads.mask_head(x)).float()
        if labels is not None:
            idx = torch.as_tensor(lab, device=logits.device)
            probs = logits[torch.arange(len(b), device=logits.device), idx].sigmoid()
        else:
            probs = logits[:, 1:].sigmoid().amax(dim=1)
        return paste_masks(probs.cpu().numpy(), b, size, output="rle", num_threads=self.num_threads)
