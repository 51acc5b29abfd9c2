"""What both servicers hold: the server's config, the dataset policy, the request admission
and the cascade jobs."""

from __future__ import annotations

from serve.admission import Admission
from serve.config import ServerConfig
from serve.jobs.cascades import CascadeJobs
from serve.paths import DatasetPolicy


class ServiceBase:
    def __init__(
        self,
        config: ServerConfig,
        policy: DatasetPolicy,
        admission: Admission,
        cascades: CascadeJobs,
    ) -> None:
        self.config = config
        self.policy = policy
        self.admission = admission
        self.cascades = cascades
