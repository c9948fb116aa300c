"""The generator interface that all method code talks to.

GUIDE and the comparison methods need only a handful of operations from a
generator: map noise to W+, know the mean latent, synthesise an image together
with the backbone's feature map, name the parameters that unlearning may train,
and draw cameras. EG3D and the synthetic world's generator are adapters behind
this interface, so the method code never sees which one it runs on.
"""

from __future__ import annotations

import abc

import torch
from torch import nn


class GeneratorAdapter(nn.Module, abc.ABC):
    """A pretrained generator as the unlearning code sees it.

    Attributes are shapes: `z_dim` (noise), `num_ws` x `w_dim` (one W+ latent).
    """

    z_dim: int
    num_ws: int
    w_dim: int
    image_size: int

    @abc.abstractmethod
    def mapping(self, z: torch.Tensor, camera: torch.Tensor) -> torch.Tensor:
        """Noise [B, z_dim] (and the conditioning camera) -> W+ [B, num_ws, w_dim]."""

    @property
    @abc.abstractmethod
    def w_avg(self) -> torch.Tensor:
        """The tracked mean latent, [num_ws, w_dim]."""

    @abc.abstractmethod
    def synthesis(self, ws: torch.Tensor, camera: torch.Tensor) -> dict[str, torch.Tensor]:
        """W+ [B, num_ws, w_dim] -> {"image": [B, 3, H, W] in about [-1, 1],
        "features": the backbone's output (EG3D: tri-planes)}."""

    @abc.abstractmethod
    def trainable_names(self) -> list[str]:
        """Names (as in `named_parameters`) of the synthesis-backbone parameters
        that unlearning trains; everything else stays frozen."""

    @abc.abstractmethod
    def sample_train_cameras(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Cameras for unlearning steps, drawn from `generator`."""

    @abc.abstractmethod
    def eval_cameras(self) -> torch.Tensor:
        """The fixed evaluation views, [V, camera_dim]."""

    @abc.abstractmethod
    def frontal_camera(self, n: int) -> torch.Tensor:
        """The camera that conditions mapping and frames source images, repeated n times."""

    def adapter_stages(self) -> dict[str, tuple[nn.Module, int]]:
        """Name -> (module, channels) of the synthesis resolution stages after which the
        adapter method may insert residual adapters (a forward hook refines the module's
        output: a feature map, or the first item of a tuple)."""
        raise NotImplementedError(f"{type(self).__name__} has no adapter stages")

    def setting(self) -> dict[str, object]:
        """What a caption must name about how this generator renders (EG3D adds its camera
        pivot, focal and noise mode)."""
        return {"image_size": self.image_size}

    def yaw_cameras(self, yaws: torch.Tensor) -> torch.Tensor:
        """Cameras at the given yaws [V] (radians from frontal, at the evaluation pitch)."""
        raise NotImplementedError(f"{type(self).__name__} cannot place a camera at a chosen yaw")

    def trainable_parameters(self) -> list[nn.Parameter]:
        wanted = set(self.trainable_names())
        return [p for name, p in self.named_parameters() if name in wanted]

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what unlearning changes: the frozen parts come from the pretrained file."""
        wanted = set(self.trainable_names())
        return {n: p.detach().clone() for n, p in self.named_parameters() if n in wanted}

    def load_trainable_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        expected = set(self.trainable_names())
        if set(state) != expected:
            missing = sorted(expected - set(state))[:3]
            extra = sorted(set(state) - expected)[:3]
            raise KeyError(f"trainable state does not match: missing {missing}, unexpected {extra}")
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)

    def freeze_all_but_trainable(self) -> None:
        wanted = set(self.trainable_names())
        for name, param in self.named_parameters():
            param.requires_grad_(name in wanted)
