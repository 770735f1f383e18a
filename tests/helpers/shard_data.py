"""Split a COCO instances file into shards in each layout (for the shard tests and benchmark)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import orjson


def per_image(data: Dict[str, Any]) -> List[Dict[str, Any]]:
    """SA-1B-style records: {"image": {..., "image_id"}, "annotations": [... without image_id]}."""
    by_image: Dict[Any, List[Any]] = {im["id"]: [] for im in data["images"]}
    for ann in data["annotations"]:
        ann = copy.deepcopy(ann)
        by_image[ann.pop("image_id")].append(ann)
    out = []
    for im in data["images"]:
        im = dict(im)
        im["image_id"] = im.pop("id")
        out.append({"image": im, "annotations": by_image[im["image_id"]]})
    return out


def write_layout(data: Dict[str, Any], root: Path, layout: str, n: int = 7) -> Path:
    """``data`` as shards under ``root`` (nested folders, to check relative paths), ``n`` shards
    for coco and jsonl, one per image for sa1b; parquet holds the RLE annotations only (its
    layout has counts strings), converted first with pycocotools."""
    root.mkdir(parents=True, exist_ok=True)
    ims = data["images"]
    if layout == "sa1b":
        for k, rec in enumerate(per_image(data)):
            path = root / f"part{k % 3}" / f"sa_{rec['image']['image_id']}.json"
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(orjson.dumps(rec))
        return root
    groups = [ims[k::n] for k in range(n)]
    for k, group in enumerate(groups):
        ids = {im["id"] for im in group}
        part = {
            "images": group,
            "annotations": [a for a in data["annotations"] if a["image_id"] in ids],
            "categories": data.get("categories", []),
        }
        sub = root / f"d{k % 2}"
        sub.mkdir(exist_ok=True)
        if layout == "coco":
            (sub / f"shard{k}.json").write_bytes(orjson.dumps(part))
        elif layout == "jsonl":
            lines = [orjson.dumps(rec) for rec in per_image(part)]
            (sub / f"shard{k}.jsonl").write_bytes(b"\n".join(lines) + b"\n")
        elif layout == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq
            from pycocotools import mask as pm

            sizes = {im["id"]: (im["height"], im["width"]) for im in group}
            rows = []
            for a in part["annotations"]:
                h, w = sizes[a["image_id"]]
                seg = a["segmentation"]
                r = pm.frPyObjects(seg, h, w)
                r = pm.merge(r) if isinstance(r, list) else r
                rows.append(
                    {
                        "image_id": a["image_id"],
                        "id": a["id"],
                        "category_id": a["category_id"],
                        "height": h,
                        "width": w,
                        "counts": r["counts"].decode(),
                        "area": float(a["area"]),
                        "bbox": [float(x) for x in a["bbox"]],
                        "iscrowd": a["iscrowd"],
                        "note": f"carried {a['id']}",
                    }
                )
            pq.write_table(pa.Table.from_pylist(rows), sub / f"shard{k}.parquet")
        else:
            raise ValueError(layout)
    return root
