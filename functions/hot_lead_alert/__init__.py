# Cold start: must run before the handler imports pydantic (see functions/common/cold_start.py).
from functions.common import cold_start  # noqa: F401
