"""The one package that talks to Dagster, dagster-dbt and dbt: a domain's definitions,
the translator, automation, the dbt step, contract verification, rejects, publishing and the
governance asset check.
"""
