"""Seeds the libFuzzer corpora (fuzz/corpus/<harness>/) from the COCO files in ../shared/data.

Only the harnesses that read raw bytes get seeds: rle_string (compressed counts strings from the
files, after its mode byte 0) and coco_json (one small instances file per image, after its
option byte). The others decode their input with FuzzedDataProvider, where libFuzzer's own
mutations find the structure faster than any seed. Usage: seed_corpus.py DATA_DIR CORPUS_DIR.
"""

import hashlib
import json
import sys
from pathlib import Path

MAX_FILES = 300


def write(folder: Path, payload: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(payload).hexdigest()).write_bytes(payload)


def main(data: Path, corpus: Path) -> None:
    strings, docs = set(), []
    for path in sorted(data.rglob("*.json")):
        doc = json.loads(path.read_bytes())
        anns = doc.get("annotations", doc) if isinstance(doc, dict) else doc
        for ann in anns if isinstance(anns, list) else []:
            seg = ann.get("segmentation") if isinstance(ann, dict) else None
            if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
                strings.add(seg["counts"].encode())
        if isinstance(doc, dict) and "images" in doc:
            by_image = {}
            for ann in doc["annotations"]:
                by_image.setdefault(ann["image_id"], []).append(ann)
            for im in doc["images"]:
                docs.append({"images": [im], "annotations": by_image.get(im["id"], [])})
    for s in sorted(strings, key=len)[:MAX_FILES]:
        write(corpus / "rle_string", b"\0" + s)
    for i, d in enumerate(sorted(docs, key=lambda d: len(json.dumps(d)))[:MAX_FILES]):
        write(corpus / "coco_json", bytes([i % 8]) + json.dumps(d).encode())
    print(
        f"seed_corpus: {min(len(strings), MAX_FILES)} rle_string, "
        f"{min(len(docs), MAX_FILES)} coco_json seeds in {corpus}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
