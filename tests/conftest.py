from .helpers import textures  # noqa: F401  (fixture)
