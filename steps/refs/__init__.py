"""Reading a registry: the handle (`open_registry`, over `dreg_client.Registry`), the tag grammar, versions and
promotion stages, and which datasets and stages the registry defines."""
