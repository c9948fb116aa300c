"""The comparison methods of the workflow, each run on the same task as GUIDE.

- `cascaded`: Cascaded GAN unlearning (arXiv 2308.09881), adapted to one identity.
- `feature`: feature unlearning for pretrained GANs (arXiv 2303.05699), the feature
  being the identity.
- `encoder`: image-to-image unlearning (arXiv 2402.00351) of the inversion encoder.

Each module holds its options (a frozen dataclass), small pure loss functions and one
training loop that draws every random number from the seeded `torch.Generator` it is given.
"""
