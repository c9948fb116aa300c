"""The two evaluation alignments (config real.eval_detector) side by side, on the images the
tests use: skimage's astronaut (the 512-px photo, and its face cropped to fill 512 x 512 as a
512-px EG3D render frames it, once as close as the tests' face) and seeded noise. Prints one
JSON object:

- landmark distances (px) between the facenet path and the reference path (GUIDE's MTCNN);
- the crop's zoom: the reference fit's scale over the landmarks -> template fit's, on the
  same (reference) landmarks and over the whole paths, and their mean grey-level gap;
- faces found in the noise images by each detector;
- detection time, ms per image (best of --repeats, one torch thread, the CPU).

    python bench/eval_detector.py --noise 4 --repeats 3
"""

from __future__ import annotations

import json
import time

import click
import numpy as np
import torch
from PIL import Image

from idunlearn.faces import (
    ARCFACE_TEMPLATE_112,
    align_arcface,
    detect_faces,
    make_eval_alignment,
)


def test_images(noise: int) -> dict[str, np.ndarray]:
    from skimage.data import astronaut

    photo = Image.fromarray(astronaut())
    images = {"astronaut": np.asarray(photo)}
    for name, side in (("astronaut_face_512", 200), ("astronaut_face_512_close", 150)):
        left, top = (125, 20) if side == 200 else (150, 30)
        face = photo.crop((left, top, left + side, top + side))
        images[name] = np.asarray(face.resize((512, 512), Image.Resampling.LANCZOS))
    rng = np.random.default_rng(0)
    for k in range(noise):
        images[f"noise_{k}"] = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    return images


def scale(matrix: np.ndarray) -> float:
    return float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))


def milliseconds(detector, image: np.ndarray, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        detect_faces(detector, image[None])
        times.append(time.perf_counter() - start)
    return round(min(times) * 1000, 1)


@click.command()
@click.option("--noise", default=4, show_default=True, help="seeded noise images")
@click.option("--repeats", default=3, show_default=True, help="timings per image (best kept)")
def main(noise: int, repeats: int) -> None:
    torch.set_num_threads(1)
    paths = {name: make_eval_alignment(name) for name in ("facenet", "reference")}
    report: dict[str, dict[str, object]] = {}
    for name, image in test_images(noise).items():
        faces = {path: detect_faces(a.detector, image[None])[0] for path, a in paths.items()}
        entry: dict[str, object] = {
            f"found_{path}": face is not None for path, face in faces.items()
        }
        entry |= {
            f"ms_{path}": milliseconds(a.detector, image, repeats) for path, a in paths.items()
        }
        if all(face is not None for face in faces.values()):
            ref, other = faces["reference"].landmarks, faces["facenet"].landmarks
            entry["landmark_px"] = np.linalg.norm(ref - other, axis=1).round(2).tolist()
            template = ARCFACE_TEMPLATE_112
            ref_scale = scale(paths["reference"].fit(ref, template))
            entry["zoom_same_landmarks"] = round(
                ref_scale / scale(paths["facenet"].fit(ref, template)), 4
            )
            entry["zoom_paths"] = round(ref_scale / scale(paths["facenet"].fit(other, template)), 4)
            pixels = torch.from_numpy(image.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
            crops = [align_arcface(pixels, a.detector, a.fit)[0] for a in paths.values()]
            entry["crop_grey_gap"] = round(float((crops[0] - crops[1]).abs().mean() * 127.5), 2)
        report[name] = entry
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
