"""kdoctor: why can't I (or this pod) talk to this Kubernetes cluster, and what do I do about it?"""

__version__ = "0.1.0"
