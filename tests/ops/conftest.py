from tests.support.ops import console  # noqa: F401  (fixture)
