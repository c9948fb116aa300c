"""The embedded synthetic world: a procedural cartoon-face renderer and the dataset built from it.

It lets the whole workflow run on a CPU without downloading faces: identities are vectors of
standard-normal codes, so "who someone is" is known exactly and can be unlearned and measured.
"""
