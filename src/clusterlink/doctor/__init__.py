"""The doctor behind ``kosmosctl dr`` (alias ``check``): every floater pair, explained.

:mod:`.matrix` decides what to probe (pure), :mod:`.exchange` hands plans to floaters and
collects their answers through the member stores, :mod:`.verdicts` turns answers into
per-check results, :mod:`.paths` explains failures from the NodeConfigs, and
:mod:`.report` and :mod:`.html` render them.
"""
