"""napari-jcas: review and clean noisy segmentation labels in napari."""
