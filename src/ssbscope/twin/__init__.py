"""Digital twin of the papers' experiments: seeded generators with ground truth.

Each generator writes real file formats (``.mpt``/CSV potentiostat logs, TIFF/HDF5
projections, HEXITEC-like event files, FITS/TIFF radiographs) so the readers and the whole
pipeline run the path a user's data takes, and returns the ground truth beside them.

Modules: ``twin.echem`` (potentiostat protocols), ``twin.formats`` (writers of
``.mpt``, PEIS ``.mpt``, CSV and Neware-style CSV), ``twin.ct`` (voxel phantoms and
projections), ``twin.xcs`` (Compton imaging geometry and detector), ``twin.neutron``
(neutron radiography of the soft-short cell), ``twin.folder`` (experiment folders a user
could have brought home: raw files, ``experiment.yaml``, ``truth.json`` beside them).
"""
