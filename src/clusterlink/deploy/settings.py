"""What varies between installations: the namespace, the image repository and the version.

Image names follow upstream (``<repository>/clusterlink-<component>:<tag>``) so that a
registry mirror set up for upstream Kosmos serves ours too.
"""

from __future__ import annotations

from dataclasses import dataclass

from clusterlink import __version__

DEFAULT_NAMESPACE = "kosmos-system"
DEFAULT_IMAGE_REPOSITORY = "ghcr.io/kosmos-io"


@dataclass(frozen=True, slots=True)
class DeploySettings:
    """``version`` is the image tag; ``image_pull_policy`` as in a container spec."""

    namespace: str = DEFAULT_NAMESPACE
    image_repository: str = DEFAULT_IMAGE_REPOSITORY
    version: str = f"v{__version__}"
    image_pull_policy: str = "IfNotPresent"

    def image(self, component: str) -> str:
        return f"{self.image_repository.rstrip('/')}/clusterlink-{component}:{self.version}"
