"""The annotation of every activity's input parameter, in the one form the Python worker accepts.

The worker loads a function only if each parameter's annotation is a class or one of `typing`'s generic aliases.
The builtin generic `dict[str, Any]` is neither (it is a `types.GenericAlias`), so the worker refuses the function
("binding payload has invalid non-type annotation"), and a refused function fails the whole app's indexing in
Azure. `tests/unit/test_worker_load.py` loads the app through the worker's own code to keep it that way.
"""

import typing

Payload = typing.Dict[str, typing.Any]  # noqa: UP006 - the builtin form is refused by the worker (see above)
