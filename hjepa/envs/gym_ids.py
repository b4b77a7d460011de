"""Building gymnasium environments by id, with errors that name the fix (planning probes, `hjepa generate`)."""

from __future__ import annotations

from typing import Any

import gymnasium

from hjepa.envs.pusht import MISSING_EXTRA, PUSHT_ID

# ids registered only where an optional extra is installed -> what to install
OPTIONAL_IDS = {PUSHT_ID: MISSING_EXTRA}


def make_env(env_id: str, field: str, **kwargs: Any) -> gymnasium.Env:
    """`gymnasium.make(env_id, **kwargs)`; an unregistered id -> ValueError naming `field` and the fix
    (the extra to install, or the ids hjepa registers)."""
    if env_id not in gymnasium.registry:
        if env_id in OPTIONAL_IDS:
            raise ValueError(f"{field}: {OPTIONAL_IDS[env_id]}")
        known = sorted(k for k in gymnasium.registry if k.startswith("hjepa/"))
        extras = [k for k in OPTIONAL_IDS if k not in gymnasium.registry]
        more = f" (with optional extras: {extras})" if extras else ""
        raise ValueError(f"{field}: {env_id!r} is not a registered gymnasium id; hjepa's are {known}{more}")
    try:
        return gymnasium.make(env_id, **kwargs)
    except TypeError as error:  # an option the environment does not take, or of the wrong type
        raise ValueError(f"{field}: {env_id} refused its options {kwargs}: {error}") from error
