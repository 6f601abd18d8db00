import pytest
import torch

from core.models import count_parameters, create_model, list_models, model_defaults


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("classes", [7, 2])
def test_every_architecture_maps_faces_to_logits(name, classes):
    model = create_model(name, num_classes=classes).eval()
    with torch.inference_mode():
        out = model(torch.randn(3, 1, 48, 48))
    assert out.shape == (3, classes)
    assert count_parameters(model) > 0


def test_registry_has_the_seed_architectures_and_a_realtime_one():
    assert {"model48", "ourmodel", "vgg", "resnet", "mini_xception"} <= set(list_models())
    assert count_parameters(create_model("mini_xception")) < 1_000_000


def test_width_is_configurable_and_unknown_args_are_refused():
    small, big = create_model("vgg", width=16), create_model("vgg", width=32)
    assert count_parameters(small) < count_parameters(big)
    assert "width" in model_defaults("resnet")
    with pytest.raises(ValueError, match="takes no argument"):
        create_model("vgg", depth=3)
    with pytest.raises(ValueError, match="unknown model"):
        create_model("alexnet")


def test_model_remembers_how_it_was_made():
    m = create_model("resnet", width=8)
    assert m.model_name == "resnet" and m.model_kwargs["width"] == 8
