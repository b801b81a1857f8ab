import json

import pytest

from jcas.data.labels import CLASS_NAMES_FILE, class_change, read_class_names
from jcas.errors import JCASInputError


def test_class_names_are_read_from_either_form_of_the_file_beside_the_masks(tmp_path):
    assert read_class_names(tmp_path) == {}  # no file: no names
    (tmp_path / CLASS_NAMES_FILE).write_text(json.dumps({"0": "background", "2": "grey matter"}))
    assert read_class_names(tmp_path) == {0: "background", 2: "grey matter"}
    (tmp_path / CLASS_NAMES_FILE).write_text(json.dumps({"labels": {"background": 0, "white matter": 3}}))
    assert read_class_names(tmp_path) == {0: "background", 3: "white matter"}
    names = read_class_names(tmp_path)
    assert class_change(3, 0, names) == "white matter → background" and class_change(3, 7, names) == "white matter → 7"


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"grey": "matter"}', "{}"])
def test_a_class_names_file_that_is_wrong_says_what_is_expected(tmp_path, text):
    (tmp_path / CLASS_NAMES_FILE).write_text(text)
    with pytest.raises(JCASInputError, match=r'classes.json: expected \{"<label value>": "<name>"'):
        read_class_names(tmp_path)
