"""Promote a release from one stack to the next, proven served: ``python -m tools.promote SRC DST``.

A *release* is the ``kserve-fluid:release`` block of a stack file (model, serving image, component
versions). Promotion copies that block from ``stacks/Pulumi.SRC.yaml`` into ``stacks/Pulumi.DST.yaml``
as text, so everything else in the target stays byte for byte (stackfile.py), and prints the diff. What it
copies is what SRC *served*: a branch SRC tracks is written as the commit SRC resolved and served, and a
staging or prod target gets ``release.program``, the commit SRC's last update was deployed from (unless SRC's
release pins one already, which is then copied).

It refuses (exit 2, one message saying why and what to do) when

* a stack file is missing, or either file has uncommitted changes (only committed releases travel);
* DST is not the next stage of SRC (rules.CHAINS: aws-dev -> aws-staging -> aws-prod, alicloud-dev ->
  alicloud-prod) and no ``--skip-stage REASON`` is given; the clouds differ without ``--cross-cloud``;
* DST is prod without ``--yes-prod``, or with ``--no-verify``, or with a serving image that is not pinned
  by digest; DST is staging or prod with ``--no-verify`` and SRC's release does not pin the model or the
  program (only verification can read what SRC served and ran);
* SRC cannot be shown to serve its committed release (deployed.py): the Pulumi CLI is missing, the outputs
  or history cannot be read, the served release is not the file's, the model revision is not pinned, or the
  last update failed, ran from a dirty tree or not the program its release pins -- verification fails closed;
* the written file would not pass the program's own configuration check (``components.config``).

``check STACK`` runs the same verification on one stack (CI after every deploy); ``deploy STACK
[--preview]`` is the one way updates run (policy pack, committed tree, pinned program, then ``check``);
``plan STACK`` is CI's change check. docs/promotion.md describes the whole flow.
"""
from tools.promote.cli import main
from tools.promote.errors import EXIT_REFUSED, Refused

__all__ = ["EXIT_REFUSED", "Refused", "main"]
