"""The local AWS: moto with a PrivateLink extension, seeded from a world file.

`LocalAws` (session.py) is the entry point for tests and tools; `acceptor local-aws serve`
(serve.py) runs it as a server for the AWS CLI. See docs/local-aws.md.
"""

from acceptor_tools.local_aws.faults import FaultInjector, FaultRule
from acceptor_tools.local_aws.notifications import SHAPES, NotificationEvent
from acceptor_tools.local_aws.seed import EndpointInfo, LoadedWorld, ServiceInfo, VpcInfo
from acceptor_tools.local_aws.session import LocalAws, role_arn
from acceptor_tools.local_aws.world import World, WorldError, load_world, parse_world

__all__ = [
    "SHAPES",
    "EndpointInfo",
    "FaultInjector",
    "FaultRule",
    "LoadedWorld",
    "LocalAws",
    "NotificationEvent",
    "ServiceInfo",
    "VpcInfo",
    "World",
    "WorldError",
    "load_world",
    "parse_world",
    "role_arn",
]
