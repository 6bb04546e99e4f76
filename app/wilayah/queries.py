from sqlalchemy import text

CHILDREN = text(
    """
    SELECT kode, nama, level, jenis FROM wilayah
    WHERE parent_kode IS NOT DISTINCT FROM :parent ORDER BY kode
    """
)
ONE = text("SELECT kode, nama, level, jenis FROM wilayah WHERE kode = :kode")
