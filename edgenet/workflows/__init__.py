"""Workflows: what composes the stages. Fit, scale search, quant-report, bundle (and :mod:`edgenet.api`) convert
*and* bench, so they sit one layer above both; the stages (``converters``, ``quantization``, ``device_bench``)
know nothing of each other's packages. tests/test_import_graph.py holds the layer table that says so."""
