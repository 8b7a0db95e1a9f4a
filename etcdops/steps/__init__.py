"""Step kinds: each turns its spec + the render context into one action. No I/O."""

from __future__ import annotations

from typing import Any

from etcdops.steps import command, pause, playbook, template, wait
from etcdops.steps.transfer import Download, Upload

STEP_KINDS: dict[str, Any] = {
    "command": command,
    "template": template,
    "upload": Upload,
    "download": Download,
    "wait": wait,
    "playbook": playbook,
    "pause": pause,
}
