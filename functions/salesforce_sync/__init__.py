# Before anything else of the function is imported: see functions/common/cold_start.py.
from functions.common import cold_start  # noqa: F401
