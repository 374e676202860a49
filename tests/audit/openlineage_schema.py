"""The parts of the OpenLineage 2-0-2 spec lolpop's events use, written here as JSON Schema from
the spec's documented requirements (the openlineage-python wheel ships no schema files).

Keyed by the ``$id`` the event's ``schemaURL`` and each facet's ``_schemaURL`` point to, so a test
can check that every facet names a schema it is validated against.
"""

from __future__ import annotations

URI = {"type": "string", "format": "uri"}
BASE_FACET = {
    "type": "object",
    "properties": {"_producer": URI, "_schemaURL": URI},
    "required": ["_producer", "_schemaURL"],
}
FACETS = {"type": "object", "additionalProperties": {"type": "object"}}
NAMED = {"namespace": {"type": "string", "minLength": 1}, "name": {"type": "string", "minLength": 1}}
DATASET = {"type": "object", "properties": {**NAMED, "facets": FACETS}, "required": ["namespace", "name"]}

OPENLINEAGE = {
    "$id": "https://openlineage.io/spec/2-0-2/OpenLineage.json",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "BaseEvent": {
            "type": "object",
            "properties": {"eventTime": {"type": "string", "format": "date-time"}, "producer": URI,
                           "schemaURL": URI},
            "required": ["eventTime", "producer", "schemaURL"],
        },
        "Run": {
            "type": "object",
            "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": FACETS},
            "required": ["runId"],
        },
        "Job": {"type": "object", "properties": {**NAMED, "facets": FACETS}, "required": ["namespace", "name"]},
        "RunEvent": {
            "allOf": [
                {"$ref": "#/$defs/BaseEvent"},
                {
                    "type": "object",
                    "properties": {
                        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
                        "run": {"$ref": "#/$defs/Run"},
                        "job": {"$ref": "#/$defs/Job"},
                        "inputs": {"type": "array", "items": DATASET},
                        "outputs": {"type": "array", "items": DATASET},
                    },
                    "required": ["run", "job"],
                },
            ],
        },
    },
}

PARENT_RUN = {
    "$id": "https://openlineage.io/spec/facets/1-2-0/ParentRunFacet.json",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "ParentRunFacet": {
            "allOf": [
                BASE_FACET,
                {
                    "type": "object",
                    "properties": {
                        "run": {"type": "object", "properties": {"runId": {"type": "string", "format": "uuid"}},
                                "required": ["runId"]},
                        "job": {"type": "object", "properties": NAMED, "required": ["namespace", "name"]},
                    },
                    "required": ["run", "job"],
                },
            ],
        },
    },
}

DATASET_VERSION = {
    "$id": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "DatasetVersionDatasetFacet": {
            "allOf": [BASE_FACET, {"type": "object", "properties": {"datasetVersion": {"type": "string"}},
                                   "required": ["datasetVersion"]}],
        },
    },
}

JOB_TYPE = {
    "$id": "https://openlineage.io/spec/facets/2-0-4/JobTypeJobFacet.json",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$defs": {
        "JobTypeJobFacet": {
            "allOf": [BASE_FACET, {"type": "object",
                                   "properties": {"processingType": {"type": "string"},
                                                  "integration": {"type": "string"},
                                                  "jobType": {"type": "string"}},
                                   "required": ["processingType", "integration"]}],
        },
    },
}

SCHEMAS = [OPENLINEAGE, PARENT_RUN, DATASET_VERSION, JOB_TYPE]
