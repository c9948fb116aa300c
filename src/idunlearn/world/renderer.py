"""Procedural cartoon-face renderer: the ground truth of the synthetic world.

A face is described by three things:

* an *identity code* (who the person is: face outline, eye/nose/mouth/brow geometry, skin and
  hair colour, hairstyle),
* a *nuisance code* (what changes between photos of the same person: expression, lighting,
  background, clothing),
* a *yaw* angle in radians (head turn; positive turns the face towards image-right).

Codes are standard normal. Each dimension goes through the Gaussian CDF to (0, 1) and then to a
physical range, so code 0 is the average face, every dimension has a smooth monotone effect, and
a generator trained on ``z = concat(identity, nuisance)`` sees a well-conditioned target.

Rendering is painter's-algorithm alpha compositing of soft shapes whose edges are 1-pixel linear
ramps of (approximate) signed distance, so images are continuous functions of the codes. It is
vectorised over the batch; the only Python loops are over chunks of images and facial parts.
Nothing here touches global random state: randomness enters only through the samplers' ``rng``.

Geometry (everything that :func:`landmarks` reports) depends on identity and yaw only; nuisance
changes colours, shading, mouth curvature/opening and eye openness, never feature positions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

IDENTITY_PARAMS: tuple[str, ...] = (
    "face_width",
    "face_length",
    "jaw_taper",
    "eye_spacing",
    "eye_size",
    "eye_height",
    "nose_length",
    "nose_width",
    "mouth_width",
    "mouth_height",
    "brow_height",
    "brow_thickness",
    "brow_slant",
    "skin_tone",
    "skin_warmth",
    "hair_hue",
    "hair_lightness",
    "hair_length",
    "hairline",
    "hair_volume",
)

NUISANCE_PARAMS: tuple[str, ...] = (
    "smile",
    "mouth_open",
    "eye_openness",
    "light_angle",
    "light_strength",
    "exposure",
    "background_hue",
    "background_lightness",
    "shirt_hue",
)

#: Names of the points returned by :func:`landmarks`; "left"/"right" are image-left/right.
LANDMARK_NAMES: tuple[str, ...] = (
    "eye_left",
    "eye_right",
    "nose_tip",
    "mouth_left",
    "mouth_right",
    "chin",
    "face_left",
    "face_right",
    "jaw_left",
    "jaw_right",
    "brow_left",
    "brow_right",
)

#: Largest |yaw| (radians) for which rendered faces are designed to look right.
YAW_LIMIT: float = 0.5

_K_ID = len(IDENTITY_PARAMS)
_K_NU = len(NUISANCE_PARAMS)
_ID = {name: i for i, name in enumerate(IDENTITY_PARAMS)}
_NU = {name: i for i, name in enumerate(NUISANCE_PARAMS)}

# Normalised face coordinates -> image: magnification and vertical shift (in face units).
_ZOOM = 1.3
_SHIFT_Y = -0.06

# Fraction of the colour wheel a hue code sweeps: less than 1, so the two tails stay distinct.
_HUE_SPAN = 0.85

# Images rendered together; keeps the per-pixel working set in cache. Results do not depend on it.
_CHUNK = 128


# --------------------------------------------------------------------------------------------
# Code sampling
# --------------------------------------------------------------------------------------------


def sample_identity_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` identity codes, float32 ``[n, len(IDENTITY_PARAMS)]``, standard normal."""
    return rng.standard_normal((int(n), _K_ID), dtype=np.float32)


def sample_nuisance_codes(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` nuisance codes, float32 ``[n, len(NUISANCE_PARAMS)]``, standard normal."""
    return rng.standard_normal((int(n), _K_NU), dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Parameter maps
# --------------------------------------------------------------------------------------------


def _codes(codes: np.ndarray, k: int, what: str) -> np.ndarray:
    """Validate a code batch and return it as float64 ``[B, k]``."""
    arr = np.asarray(codes, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != k:
        raise ValueError(f"{what} codes must have shape [B, {k}], got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} codes contain non-finite values")
    return arr


def _yaws(yaw: np.ndarray, b: int) -> np.ndarray:
    arr = np.asarray(yaw, dtype=np.float64).reshape(-1)
    if arr.shape[0] != b:
        raise ValueError(f"yaw must have shape [{b}], got {np.shape(yaw)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError("yaw contains non-finite values")
    return arr


def _lerp(lo: float, hi: float, t: np.ndarray) -> np.ndarray:
    return lo + (hi - lo) * t


def _wheel(hue: np.ndarray, lightness: np.ndarray, saturation: float) -> np.ndarray:
    """Smooth colour wheel: ``[B] -> [B, 3]`` RGB in [0, 1] (a cosine hue circle)."""
    amp = 2.0 * saturation * lightness * (1.0 - lightness)
    phase = hue[:, None] - np.array([0.0, 1.0 / 3.0, 2.0 / 3.0])
    return np.clip(lightness[:, None] + amp[:, None] * np.cos(2.0 * np.pi * phase), 0.0, 1.0)


def _hue(u: np.ndarray, average: float) -> np.ndarray:
    """Map a CDF value in (0, 1) to a hue (in turns) centred on ``average``."""
    return average + _HUE_SPAN * (u - 0.5)


def _geometry(identity: np.ndarray, yaw: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Positions and sizes of all facial parts in pixels (float64 ``[B]`` each).

    The head turns about a vertical axis through x = 0. A point at frontal offset ``x0`` and
    depth ``z`` (towards the viewer) appears at ``x0 cos(yaw) + z sin(yaw)``: the nose tip, the
    deepest point, moves most, eyes and mouth corners (on a curved face surface) less and get
    foreshortened on the far side, the outline hardly moves, and the ears (behind the axis) move
    the other way, so the near ear shows and the far one hides behind the face.
    """
    u = ndtr(identity)
    p = {name: u[:, i] for name, i in _ID.items()}
    s, c = np.sin(yaw), np.cos(yaw)

    # Face outline, in normalised units (image spans [-1, 1], y down).
    R = _lerp(0.36, 0.50, p["face_width"])  # half-width of the face
    bl = _lerp(0.40, 0.60, p["face_length"])  # centre -> chin
    bu = 0.50 + 0.3 * (bl - 0.5)  # centre -> crown
    cy = 0.02 - 0.4 * (bl - 0.5)
    depth = 0.85 * R  # depth of the face front ahead of the turning axis

    def zsurf(x0: np.ndarray) -> np.ndarray:
        return depth * np.sqrt(np.clip(1.0 - (x0 / (1.15 * R)) ** 2, 0.0, 1.0))

    def proj(x0: np.ndarray | float, z: np.ndarray | float) -> np.ndarray:
        return x0 * c + z * s

    def surf(x0: np.ndarray, extra: float = 0.0) -> np.ndarray:
        return proj(x0, zsurf(x0) + extra)

    g: dict[str, np.ndarray] = {}
    face_cx = 0.12 * R * s
    g["face_cx"] = face_cx
    g["face_cy"] = cy
    g["face_hw_left"] = R * (1.0 + 0.1 * s)
    g["face_hw_right"] = R * (1.0 - 0.1 * s)
    g["face_bu"] = bu
    g["face_bl"] = bl
    g["jaw"] = _lerp(0.0, 0.55, p["jaw_taper"])
    g["chin_x"] = proj(0.0, 0.8 * depth)
    g["chin_y"] = cy + bl

    # Eyes: projected from their frontal corners, so the far eye narrows.
    es = _lerp(0.14, 0.23, p["eye_spacing"])
    ew = _lerp(0.06, 0.105, p["eye_size"])
    ey = cy + _lerp(-0.12, 0.02, p["eye_height"])
    g["eye_y"] = ey
    g["eye_hh"] = 0.62 * ew
    for side, sign in (("left", -1.0), ("right", 1.0)):
        lo, hi = surf(sign * es - ew), surf(sign * es + ew)
        g[f"eye_{side}_x"] = 0.5 * (lo + hi)
        g[f"eye_{side}_hw"] = np.maximum(0.5 * (hi - lo), 0.2 * ew)
        g[f"eye_{side}_squash"] = g[f"eye_{side}_hw"] / ew

    # Brows: a lens-shaped band above each eye, outer end longer.
    bt = _lerp(0.015, 0.05, p["brow_thickness"])
    g["brow_ht"] = bt
    g["brow_arch"] = np.full_like(bt, 0.015)  # the brow centre sits this much above its ends
    g["brow_y"] = ey - 0.72 * ew - _lerp(0.03, 0.10, p["brow_height"]) - bt - g["brow_arch"]
    g["brow_slant"] = _lerp(-0.3, 0.3, p["brow_slant"])  # rise of the outer end per unit width
    for side, sign in (("left", -1.0), ("right", 1.0)):
        inner, outer = sign * (es - ew - 0.01), sign * (es + ew + 0.025)
        lo, hi = surf(np.minimum(inner, outer)), surf(np.maximum(inner, outer))
        g[f"brow_{side}_x"] = 0.5 * (lo + hi)
        g[f"brow_{side}_hw"] = np.maximum(0.5 * (hi - lo), 0.02)

    # Nose: bridge from between the eyes to the tip; the tip protrudes, so it moves most.
    top_y = ey + 0.03
    tip_y = ey + _lerp(0.15, 0.27, p["nose_length"])
    prot = 0.05 + 0.4 * (tip_y - ey)
    nw = _lerp(0.025, 0.09, p["nose_width"])
    tip_x = proj(0.0, depth + prot)
    g["nose_top_x"] = proj(0.0, depth + 0.01)
    g["nose_top_y"] = top_y
    g["nose_x"] = tip_x
    g["nose_y"] = tip_y
    g["nose_hw_left"] = np.maximum(tip_x - proj(-nw, depth + 0.6 * prot), 0.2 * nw)
    g["nose_hw_right"] = np.maximum(proj(nw, depth + 0.6 * prot) - tip_x, 0.2 * nw)
    g["nose_hh"] = 0.5 * nw + 0.012

    # Mouth: corners on the face surface, centre slightly ahead of it.
    my = tip_y + _lerp(0.30, 0.60, p["mouth_height"]) * (g["chin_y"] - tip_y)
    mw = _lerp(0.07, 0.19, p["mouth_width"])
    mx = proj(0.0, depth + 0.03)
    g["mouth_x"] = mx
    g["mouth_y"] = my
    g["mouth_left_x"] = np.minimum(surf(-mw, 0.01), mx - 0.2 * mw)
    g["mouth_right_x"] = np.maximum(surf(mw, 0.01), mx + 0.2 * mw)

    # Ears sit behind the turning axis.
    g["ear_y"] = ey + 0.07
    g["ear_left_x"] = proj(-0.97 * R, -0.3 * R)
    g["ear_right_x"] = proj(0.97 * R, -0.3 * R)
    g["ear_hw"] = 0.16 * R
    g["ear_hh"] = 0.26 * R

    # Hair: a cap and a long-hair oval behind the head, a fringe in front of the forehead.
    vol = _lerp(0.03, 0.16, p["hair_volume"])
    cap_cy = cy - 0.2
    g["cap_cx"] = -0.06 * R * s
    g["cap_cy"] = cap_cy
    g["cap_hw"] = R + 0.05 + 0.5 * vol
    g["cap_hh"] = bu - 0.17 + vol
    bottom = cy + _lerp(-0.10, 0.95, p["hair_length"])
    g["long_cx"] = g["cap_cx"]
    g["long_cy"] = 0.5 * (cap_cy + bottom)
    g["long_hw"] = R + 0.07 + 0.5 * vol
    g["long_hh"] = np.maximum(0.5 * (bottom - cap_cy), 0.01)
    g["fringe_x"] = proj(0.0, 0.9 * depth)
    g["fringe_y"] = cy - bu + _lerp(0.07, 0.28, p["hairline"])
    g["fringe_curve"] = 0.6 / R  # y rises by 0.6 R at the face edge: sideburns

    # Neck, shirt, and the head ellipsoid used for shading.
    g["neck_x"] = 0.03 * R * s
    g["neck_y"] = cy + 0.2
    g["neck_hw"] = 0.42 * R
    g["shirt_y"] = g["chin_y"] + 0.12 + 0.5
    g["shirt_hw"] = np.full_like(R, 0.85)
    g["shirt_hh"] = np.full_like(R, 0.5)
    g["shade_cx"] = face_cx
    g["shade_cy"] = cy - 0.1
    g["shade_rx"] = R + 0.2
    g["shade_ry"] = bu + 0.25

    # To pixels: positions are pixel-centre coordinates, sizes are pixel lengths.
    half = size / 2.0
    unitless = {"jaw"}
    xs = {"face_cx", "chin_x", "nose_top_x", "nose_x", "mouth_x", "cap_cx", "long_cx"}
    xs |= {"fringe_x", "neck_x", "shade_cx", "mouth_left_x", "mouth_right_x"}
    xs |= {f"{part}_{side}_x" for part in ("eye", "brow", "ear") for side in ("left", "right")}
    ys = {k for k in g if k.endswith("_y")} | {"face_cy", "cap_cy", "long_cy", "shade_cy"}
    scale = _ZOOM * half
    out: dict[str, np.ndarray] = {}
    for key, val in g.items():
        if key in xs:
            out[key] = val * scale + (half - 0.5)
        elif key in ys:
            out[key] = (val + _SHIFT_Y) * scale + (half - 0.5)
        elif key in unitless or key.endswith("_squash") or key == "brow_slant":
            out[key] = val
        else:
            out[key] = val * scale
    out["fringe_curve"] = g["fringe_curve"] / scale
    return out


def landmarks(identity: np.ndarray, yaw: np.ndarray, size: int = 64) -> np.ndarray:
    """Pixel coordinates ``(x, y)`` of the key points named in :data:`LANDMARK_NAMES`.

    Returns float32 ``[B, len(LANDMARK_NAMES), 2]`` for images of ``size`` x ``size`` pixels
    (pixel centres at integer coordinates). They depend on identity and yaw only, which is what
    makes them a check that nuisance never moves the face; :func:`render` draws the features
    at exactly these points.
    """
    ident = _codes(identity, _K_ID, "identity")
    g = _geometry(ident, _yaws(yaw, ident.shape[0]), size)
    pts = [
        (g["eye_left_x"], g["eye_y"]),
        (g["eye_right_x"], g["eye_y"]),
        (g["nose_x"], g["nose_y"]),
        (g["mouth_left_x"], g["mouth_y"]),
        (g["mouth_right_x"], g["mouth_y"]),
        (g["chin_x"], g["chin_y"]),
        (g["face_cx"] - g["face_hw_left"], g["face_cy"]),
        (g["face_cx"] + g["face_hw_right"], g["face_cy"]),
    ]
    # The outline on the mouth row: where the jaw taper shows.
    t = (g["mouth_y"] - g["face_cy"]) / g["face_bl"]
    width = (1.0 - g["jaw"] * t * t) * np.sqrt(1.0 - t * t)
    centre = g["face_cx"] + (g["chin_x"] - g["face_cx"]) * t * t
    pts.append((centre - g["face_hw_left"] * width, g["mouth_y"]))
    pts.append((centre + g["face_hw_right"] * width, g["mouth_y"]))
    pts.append((g["brow_left_x"], g["brow_y"]))
    pts.append((g["brow_right_x"], g["brow_y"]))
    return np.stack([np.stack(pt, axis=-1) for pt in pts], axis=1).astype(np.float32)


def _appearance(identity: np.ndarray, nuisance: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Colours (``[B, 3]`` in [0, 1]) and the nuisance-driven shape/shading parameters."""
    ui = ndtr(identity)
    un = ndtr(nuisance)
    p = {name: ui[:, i] for name, i in _ID.items()}
    q = {name: un[:, i] for name, i in _NU.items()}
    a: dict[str, np.ndarray] = {}

    light = np.array([0.98, 0.84, 0.73])
    dark = np.array([0.38, 0.24, 0.16])
    warm = np.array([-0.025, 0.04, -0.05])
    tone = p["skin_tone"][:, None]
    skin = light + (dark - light) * tone + warm * (2.0 * p["skin_warmth"][:, None] - 1.0)
    skin = np.clip(skin, 0.0, 1.0)
    hair = _wheel(_hue(p["hair_hue"], 0.08), _lerp(0.08, 0.80, p["hair_lightness"]), 0.75)
    a["skin"] = skin
    a["hair"] = hair
    a["ear"] = skin * 0.9
    a["neck"] = skin * 0.8
    a["nose"] = skin * 0.8
    a["nostril"] = skin * 0.35
    a["lips"] = np.clip(skin * np.array([0.85, 0.52, 0.52]) + np.array([0.12, 0.0, 0.02]), 0, 1)
    a["mouth_in"] = np.broadcast_to(np.array([0.30, 0.06, 0.09]), skin.shape)
    a["lash"] = np.broadcast_to(np.array([0.10, 0.07, 0.07]), skin.shape)
    a["sclera"] = np.broadcast_to(np.array([0.97, 0.97, 0.95]), skin.shape)
    a["iris"] = np.broadcast_to(np.array([0.22, 0.14, 0.10]), skin.shape)
    a["brow"] = hair * 0.45 + 0.02
    a["background"] = _wheel(
        _hue(q["background_hue"], 0.7), _lerp(0.2, 0.9, q["background_lightness"]), 0.5
    )
    a["shirt"] = _wheel(_hue(q["shirt_hue"], 0.6), np.full_like(q["shirt_hue"], 0.45), 0.7)

    unit = _ZOOM * size / 2.0  # pixels per face unit
    a["smile"] = _lerp(-0.03, 0.05, q["smile"]) * unit  # sag of the mouth centre, pixels
    a["mouth_open"] = 0.06 * q["mouth_open"] ** 2 * unit
    a["eye_open"] = _lerp(0.45, 1.15, q["eye_openness"])
    angle = _lerp(-np.pi, np.pi, q["light_angle"])  # 0: light from above
    strength = _lerp(0.0, 0.32, q["light_strength"])
    a["light_x"] = np.sin(angle) * strength
    a["light_y"] = -np.cos(angle) * strength
    a["exposure"] = _lerp(0.9, 1.08, q["exposure"])
    return a


# --------------------------------------------------------------------------------------------
# Rasterisation
# --------------------------------------------------------------------------------------------


def _col(v: np.ndarray) -> np.ndarray:
    """Per-image scalar -> float32 ``[b, 1, 1]``; float32 keeps all pixel maths single precision."""
    return np.asarray(v, dtype=np.float32).reshape(-1, 1, 1)


def _soft(hw: np.ndarray, hh: np.ndarray) -> np.ndarray:
    """Scale turning an ellipse's implicit value ``f - 1`` into ~signed pixel distance."""
    return _col(hw * hh / (hw + hh))


class _Canvas:
    """A chunk of images being painted, stored channel-major ``[3, b, H, W]`` for speed."""

    def __init__(self, b: int, size: int, background_rows: np.ndarray) -> None:
        self.xg = np.arange(size, dtype=np.float32).reshape(1, 1, size)
        self.yg = np.arange(size, dtype=np.float32).reshape(1, size, 1)
        self.img = np.ascontiguousarray(np.broadcast_to(background_rows, (3, b, size, size)))
        self.tmp = np.empty((b, size, size), dtype=np.float32)
        self.fg = np.zeros((b, size, size), dtype=np.float32)

    def paint(self, alpha: np.ndarray, colour: np.ndarray, foreground: bool = True) -> None:
        """Alpha-composite a flat ``[b, 3]`` colour over the image."""
        colour = np.asarray(colour, dtype=np.float32)
        for ch in range(3):
            plane = self.img[ch]
            np.subtract(colour[:, ch].reshape(-1, 1, 1), plane, out=self.tmp)
            self.tmp *= alpha
            plane += self.tmp
        if foreground:
            np.maximum(self.fg, alpha, out=self.fg)

    def ellipse(
        self,
        cx: np.ndarray,
        hw_left: np.ndarray,
        hw_right: np.ndarray,
        cy: np.ndarray,
        hh: np.ndarray,
        soft: np.ndarray,
    ) -> np.ndarray:
        """Soft axis-aligned ellipse with different left/right half-widths.

        ``cx``/``hw_*`` may be ``[b,1,1]`` or per column ``[b,1,W]`` (two mirrored parts in one
        pass); ``cy``/``hh`` are ``[b,1,1]``; ``soft`` is the ``[b,1,1]`` distance scale.
        """
        dx = self.xg - cx
        fx = dx / np.where(dx > 0, hw_right, hw_left)
        fx *= fx
        fy = (self.yg - cy) / hh
        fy *= fy
        alpha = (0.5 + soft - soft * fx) - soft * fy
        return np.clip(alpha, 0.0, 1.0, out=alpha)

    def band(self, yc: np.ndarray, ht: np.ndarray) -> np.ndarray:
        """Soft band of half-thickness ``ht`` around the curve ``y = yc(x)`` (both ``[b,1,W]``)."""
        d = np.subtract(self.yg, yc)
        np.abs(d, out=d)
        np.subtract(ht + 0.5, d, out=d)
        return np.clip(d, 0.0, 1.0, out=d)


def _render_chunk(identity: np.ndarray, nuisance: np.ndarray, yaw: np.ndarray, size: int):
    b = identity.shape[0]
    g = {k: _col(v) for k, v in _geometry(identity, yaw, size).items()}
    a = _appearance(identity, nuisance, size)

    # Background: a flat colour with a gentle vertical gradient.
    grad = (1.08 - 0.16 * np.arange(size) / max(size - 1, 1)).astype(np.float32)
    bg = a["background"].T.astype(np.float32)[:, :, None, None] * grad[None, None, :, None]
    cv = _Canvas(b, size, np.clip(bg, 0.0, 1.0))
    xg, yg = cv.xg, cv.yg  # pixel-centre coordinates, [1, 1, W] and [1, H, 1]

    # Shirt (shoulders) and neck.
    unit = _ZOOM * size / 2.0  # pixels per face unit
    sh_cx = _col(np.full(b, size / 2.0 - 0.5))
    shirt = cv.ellipse(
        sh_cx,
        g["shirt_hw"],
        g["shirt_hw"],
        g["shirt_y"],
        g["shirt_hh"],
        _soft(g["shirt_hw"], g["shirt_hh"]),
    )
    cv.paint(shirt, a["shirt"])
    neck_cols = np.clip(0.5 + g["neck_hw"] - np.abs(xg - g["neck_x"]), 0.0, 1.0)
    neck_rows = np.clip(0.5 + yg - g["neck_y"], 0.0, 1.0)
    cv.paint(neck_cols * neck_rows, a["neck"])

    # Back hair: cap and long oval.
    cap = cv.ellipse(
        g["cap_cx"],
        g["cap_hw"],
        g["cap_hw"],
        g["cap_cy"],
        g["cap_hh"],
        _soft(g["cap_hw"], g["cap_hh"]),
    )
    long_hair = cv.ellipse(
        g["long_cx"],
        g["long_hw"],
        g["long_hw"],
        g["long_cy"],
        g["long_hh"],
        _soft(g["long_hw"], g["long_hh"]),
    )
    cv.paint(np.maximum(cap, long_hair), a["hair"])

    # Ears (the face covers the far one when the head turns).
    mid = g["nose_top_x"]
    left = xg < mid
    ear_x = np.where(left, g["ear_left_x"], g["ear_right_x"])
    cv.paint(
        cv.ellipse(
            ear_x,
            g["ear_hw"],
            g["ear_hw"],
            g["ear_y"],
            g["ear_hh"],
            _soft(g["ear_hw"], g["ear_hh"]),
        ),
        a["ear"],
    )

    # Face: upper half an ellipse, lower half narrowing towards a chin that follows the yaw.
    rel = yg - g["face_cy"]
    t_below = np.clip(rel / g["face_bl"], 0.0, None)
    t_up = np.clip(-rel / g["face_bu"], 0.0, None)
    rowsq = t_below * t_below + t_up * t_up
    t_low = np.minimum(t_below, 1.0)
    rowinv = 1.0 / (1.0 - g["jaw"] * t_low * t_low)
    centre = g["face_cx"] + (g["chin_x"] - g["face_cx"]) * t_low * t_low
    soft_face = 0.25 * (g["face_hw_left"] + g["face_hw_right"])
    dx = xg - centre
    xs = np.where(dx > 0, rowinv / g["face_hw_right"], rowinv / g["face_hw_left"])
    xs *= dx
    xs *= xs
    xs += rowsq - 1.0
    xs *= -soft_face
    xs += 0.5
    face = np.clip(xs, 0.0, 1.0, out=xs)
    cv.paint(face, a["skin"])

    # Nose: bridge shadow, tip, nostrils.
    span = g["nose_y"] - g["nose_top_y"]
    shear = (g["nose_x"] - g["nose_top_x"]) / span
    bridge_c = 0.5 * (g["nose_top_y"] + g["nose_y"])
    bridge_hw = _col(np.full(b, 0.022 * unit))
    by = (yg - bridge_c) / (0.5 * span)
    bridge = (xg - g["nose_top_x"] - shear * (yg - g["nose_top_y"])) / bridge_hw
    bridge *= bridge
    bridge += by * by - 1.0
    bridge *= -0.5 * bridge_hw
    bridge += 0.5
    np.clip(bridge, 0.0, 0.6, out=bridge)
    cv.paint(bridge, a["nose"])
    nose_soft = _soft(0.5 * (g["nose_hw_left"] + g["nose_hw_right"]), g["nose_hh"])
    tip = cv.ellipse(
        g["nose_x"], g["nose_hw_left"], g["nose_hw_right"], g["nose_y"], g["nose_hh"], nose_soft
    )
    cv.paint(tip, a["nose"])
    nl = xg < g["nose_x"]
    nos_x = np.where(
        nl, g["nose_x"] - 0.5 * g["nose_hw_left"], g["nose_x"] + 0.5 * g["nose_hw_right"]
    )
    nos_hw = np.where(nl, 0.32 * g["nose_hw_left"], 0.32 * g["nose_hw_right"])
    nos_hh = 0.38 * g["nose_hh"]
    nostrils = cv.ellipse(
        nos_x,
        nos_hw,
        nos_hw,
        g["nose_y"] + 0.35 * g["nose_hh"],
        nos_hh,
        _soft(nos_hw.mean(axis=2, keepdims=True), nos_hh),
    )
    cv.paint(nostrils, a["nostril"])

    # Mouth: a lens-shaped band through the corners, bent by the smile, opened by mouth_open.
    mdx = xg - g["mouth_x"]
    mu = mdx / np.where(
        mdx > 0, g["mouth_right_x"] - g["mouth_x"], g["mouth_x"] - g["mouth_left_x"]
    )
    prof = 1.0 - mu * mu
    yc = g["mouth_y"] + _col(a["smile"]) * prof
    opening = _col(a["mouth_open"])
    cv.paint(cv.band(yc, (0.022 * unit + 0.5 * opening) * prof), a["lips"])
    cv.paint(cv.band(yc, (opening + 0.35) * prof - 0.35), a["mouth_in"])

    # Eyes: lash outline, white, iris (clipped to the white); both eyes in one pass.
    eye_x = np.where(left, g["eye_left_x"], g["eye_right_x"])
    eye_hw = np.where(left, g["eye_left_hw"], g["eye_right_hw"])
    squash = np.where(left, g["eye_left_squash"], g["eye_right_squash"])
    eye_hh = g["eye_hh"] * _col(a["eye_open"])
    soft_eye = _soft(0.5 * (g["eye_left_hw"] + g["eye_right_hw"]), eye_hh)
    cv.paint(
        cv.ellipse(eye_x, eye_hw + 0.7, eye_hw + 0.7, g["eye_y"], eye_hh + 0.7, soft_eye + 0.3),
        a["lash"],
    )
    white = cv.ellipse(eye_x, eye_hw, eye_hw, g["eye_y"], eye_hh, soft_eye)
    cv.paint(white, a["sclera"])
    ri = 0.7 * g["eye_hh"]
    iris = cv.ellipse(eye_x, ri * squash, ri * squash, g["eye_y"], ri, _soft(ri, ri))
    iris *= white
    cv.paint(iris, a["iris"])

    # Brows.
    brow_x = np.where(left, g["brow_left_x"], g["brow_right_x"])
    brow_hw = np.where(left, g["brow_left_hw"], g["brow_right_hw"])
    bu_ = (xg - brow_x) / brow_hw
    outward = np.where(left, -1.0, 1.0).astype(np.float32)
    brow_yc = g["brow_y"] - g["brow_slant"] * outward * (xg - brow_x) + g["brow_arch"] * bu_ * bu_
    brow_ht = g["brow_ht"] * (1.0 - (bu_ * bu_) ** 2)
    cv.paint(cv.band(brow_yc, brow_ht), a["brow"])

    # Fringe: the cap above a hairline that drops towards the sides (sideburns).
    hx = xg - g["fringe_x"]
    hairline = np.minimum(g["fringe_y"] + g["fringe_curve"] * hx * hx, g["ear_y"] - g["ear_hh"])
    fringe = np.clip(0.5 + hairline - yg, 0.0, 1.0) * cap
    cv.paint(fringe, a["hair"])

    # Lighting: a smooth shading field on the head, background left alone.
    nx = np.clip((xg - g["shade_cx"]) / g["shade_rx"], -1.3, 1.3)
    ny = np.clip((yg - g["shade_cy"]) / g["shade_ry"], -1.3, 1.3)
    expo = _col(a["exposure"])
    cols = expo * (_col(a["light_x"]) * nx - 0.12 * nx * nx)
    rows = expo * (1.0 + _col(a["light_y"]) * ny - 0.12 * ny * ny) - 1.0
    factor = cols + rows
    factor *= cv.fg
    factor += 1.0
    cv.img *= factor
    return cv.img


def render(
    identity: np.ndarray, nuisance: np.ndarray, yaw: np.ndarray, size: int = 64
) -> np.ndarray:
    """Render faces: float32 ``[B, 3, size, size]`` in [-1, 1] (channels first).

    ``identity`` is ``[B, len(IDENTITY_PARAMS)]``, ``nuisance`` ``[B, len(NUISANCE_PARAMS)]``
    (standard-normal codes), ``yaw`` ``[B]`` radians (designed for ``|yaw| <= YAW_LIMIT``).
    Deterministic, and each image depends only on its own inputs (not on the rest of the batch).
    """
    ident = _codes(identity, _K_ID, "identity")
    nuis = _codes(nuisance, _K_NU, "nuisance")
    b = ident.shape[0]
    if nuis.shape[0] != b:
        raise ValueError(f"identity and nuisance batch sizes differ: {b} vs {nuis.shape[0]}")
    yaws = _yaws(yaw, b)
    size = int(size)
    if size < 8:
        raise ValueError(f"size must be at least 8 pixels, got {size}")
    out = np.empty((b, 3, size, size), dtype=np.float32)
    for start in range(0, b, _CHUNK):
        sl = slice(start, start + _CHUNK)
        img = _render_chunk(ident[sl], nuis[sl], yaws[sl], size)
        np.clip(img, 0.0, 1.0, out=img)
        img *= 2.0
        img -= 1.0
        out[sl] = img.transpose(1, 0, 2, 3)
    return out
