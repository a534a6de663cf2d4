"""Generated manifests: schema-valid, least privilege, matching the components they run."""
