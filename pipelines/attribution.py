"""The Open Government Licence attribution every output of police.uk and ONS data must carry."""

ATTRIBUTION = "Contains public sector information licensed under the Open Government Licence v3.0."
