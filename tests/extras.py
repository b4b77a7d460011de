"""Skip marks for the tests of optional extras: each names the extra that would run them."""

import pytest

from hjepa.registration import SWM_TWOROOM_ID, extra_installed

needs_swm = pytest.mark.skipif(
    not extra_installed(SWM_TWOROOM_ID), reason="stable-worldmodel is not installed (pip install 'hjepa[swm]')"
)
