"""Where :class:`maskprep.models.MaskRCNN`'s weights come from: a ``state_dict`` file or a
torchvision registry name (fetched from torch's hub cache or downloaded)."""

from __future__ import annotations

import os
from typing import Any


def _weights_enum(torchvision, arch: str):
    d = torchvision.models.detection
    return d.MaskRCNN_ResNet50_FPN_Weights if arch == "v1" else d.MaskRCNN_ResNet50_FPN_V2_Weights


def _is_path(weights: Any) -> bool:
    if isinstance(weights, os.PathLike):
        return True
    return isinstance(weights, str) and (
        os.path.exists(weights) or weights.endswith((".pth", ".pt")) or os.sep in weights
    )


def state_dict_for(
    torch: Any, torchvision: Any, weights: Any, arch: str, num_classes: int
) -> tuple:
    """``(state_dict, registry entry or None)`` for :class:`~maskprep.models.MaskRCNN`'s
    ``weights`` argument (see there); ValueError for a bad path or name, RuntimeError when
    registry weights cannot be fetched."""
    if _is_path(weights):
        sd = torch.load(os.fspath(weights), map_location="cpu", weights_only=True)
        for key in ("model", "state_dict"):
            if isinstance(sd, dict) and isinstance(sd.get(key), dict):
                sd = sd[key]
        if not isinstance(sd, dict):
            raise ValueError(f"weights file {weights!r} does not hold a state_dict")
        return sd, None
    if not isinstance(weights, str):
        raise ValueError(f"weights must be None, a path or a registry name, got {weights!r}")
    enum = _weights_enum(torchvision, arch)
    name = weights.split(".")[-1]
    if "." in weights and weights.split(".")[0] != enum.__name__:
        raise ValueError(f"weights {weights!r} are not for arch {arch!r} ({enum.__name__})")
    try:
        entry = enum[name]
    except KeyError:
        names = ", ".join(["DEFAULT"] + [w.name for w in enum])
        raise ValueError(f"unknown weights {weights!r}; {enum.__name__} has {names}") from None
    if num_classes != len(entry.meta["categories"]):
        raise ValueError(
            f"registry weights {weights!r} have {len(entry.meta['categories'])} classes, "
            f"got num_classes={num_classes}"
        )
    try:
        return entry.get_state_dict(progress=False, check_hash=True), entry
    except Exception as e:  # offline: URLError, OSError, ... depending on the failure
        raise RuntimeError(
            f"could not fetch torchvision weights {enum.__name__}.{entry.name} from "
            f"{entry.url} ({type(e).__name__}: {e}); download the file where there is a "
            "network and pass its path as weights="
        ) from e
