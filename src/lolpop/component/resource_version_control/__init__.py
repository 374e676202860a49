"""Resource version control: put datasets and model files under version control."""

from lolpop.component.resource_version_control.base_resource_version_control import BaseResourceVersionControl
from lolpop.component.resource_version_control.git_resource_version_control import GitResourceVersionControl

__all__ = ["BaseResourceVersionControl", "GitResourceVersionControl"]
