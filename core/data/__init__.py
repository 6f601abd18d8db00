"""Layer 1, data: data sets (FER2013's CSV, image folders), image decoding, batch augmentation, synthetic
sets. Imports only layer 0 (settings, labels, files).

    ds = load_dataset()                  # FER2013 wherever it is found, as uint8 tensors, cached
    image = load_image("photo.jpg")      # RGB uint8, or ImageError with a sentence for the user
"""
from .dataset import (Dataset, Split, default_data_path, detect_layout, is_cached, load_dataset, normalize, pixel_stats,
                      to_ferplus, to_stress, with_grey)
from .grey import GREY_STEPS, apply_grey, check_grey
from .errors import DataError
from .folders import IMAGE_EXTENSIONS
from .images import ImageError, load_image, to_grey, to_uint8
from .splits import SPLITS

__all__ = ["GREY_STEPS", "apply_grey", "check_grey", "to_ferplus", "with_grey", "Dataset", "Split", "DataError", "ImageError", "IMAGE_EXTENSIONS", "SPLITS", "default_data_path",
           "detect_layout", "is_cached", "load_dataset", "load_image", "normalize", "pixel_stats", "to_grey", "to_stress",
           "to_uint8"]
