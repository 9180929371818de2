"""`lp`, the operator CLI of lambda-pipelines: the local stack, each pipeline's jobs and files, every
dead-letter queue, the demo and the cost model, against the local stack or a real AWS account.

Names come from the ``terraform output`` of an environment root (``--root``, default the local one) or
from a saved ``terraform output -json`` file (``--outputs``); nothing is hard-coded.
"""
