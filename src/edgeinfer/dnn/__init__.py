"""DNN descriptions: per-layer profiles (no torch), the PyTorch zoo and profiler (torch extra),
and parameter-block libraries. Nothing here imports a framework."""

from edgeinfer.dnn.profiles import (
    LayerProfile,
    ModelProfile,
    list_profiles,
    load_profile,
    profile_from_dict,
    register_profile,
    shipped_profiles,
    unregister_profile,
    validate_profile,
)

__all__ = ["LayerProfile", "ModelProfile", "list_profiles", "load_profile", "profile_from_dict", "register_profile",
           "shipped_profiles", "unregister_profile", "validate_profile"]
