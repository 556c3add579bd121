"""Vendored, generated code — not written or edited by hand (reviewers and linters skip this folder).

- ``metadata_schema.fbs``: TFLite Support's metadata schema, ``tensorflow_lite_support/metadata/metadata_schema.fbs``
  as shipped in the tflite-support 0.4.4 wheel.
- ``metadata_schema_generated.py``: ``flatc --python --gen-object-api --gen-onefile -o OUT metadata_schema.fbs``
  (Debian's flatc 2.0.8); ``tests/converters/test_metadata.py`` regenerates it and checks it is identical.
"""
