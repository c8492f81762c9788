"""Every check of the labs' exercises: it says whether an answer is right, never what it is.

The generic checks are in :mod:`labsupport.checks.core`; a lab's own checks (properties of a
quantizer, of a router, of a decode loop) are in the module named for its chapter's
mechanism. Each prints a confirmation or raises ``AssertionError`` saying what is wrong.
"""

from labsupport.checks.core import (
    check_close,
    check_closest,
    check_function,
    check_largest,
    check_smallest,
    check_tensor_function,
)
from labsupport.checks.moe import check_moe_layer
from labsupport.checks.quantize import check_fake_quantizer
from labsupport.checks.serving import check_tokens_per_pass, check_verifier

__all__ = [
    "check_close",
    "check_closest",
    "check_fake_quantizer",
    "check_function",
    "check_largest",
    "check_moe_layer",
    "check_smallest",
    "check_tensor_function",
    "check_tokens_per_pass",
    "check_verifier",
]
