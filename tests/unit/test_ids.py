"""ARM ids: parse, canonical form, and errors that name the bad part."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgflex_restore.ids import ArmIdError, BackupInstanceId, RecoveryPointId, VaultId, job_guid

VAULT = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.DataProtection/backupVaults/vault-1"
BI = VAULT + "/backupInstances/server-1-abc"


def test_parse_backup_instance_canonical() -> None:
    """Segment names are case-insensitive, the trailing slash is dropped, str() is canonical."""
    messy = BI.replace("resourceGroups", "RESOURCEGROUPS").replace("Microsoft.DataProtection",
                                                                    "microsoft.dataprotection") + "/"
    bi = BackupInstanceId.parse(messy)
    assert str(bi) == BI and bi.path == BI
    assert bi.vault == VaultId("sub-1", "rg-1", "vault-1")
    assert str(bi.vault) == VAULT == bi.vault.path


def test_parse_accepts_full_management_url() -> None:
    """A URL pasted from a log (host and query) still parses."""
    bi = BackupInstanceId.parse(f"https://management.azure.com{BI}?api-version=2026-06-01")
    assert str(bi) == BI


def test_from_parts_and_same_as() -> None:
    """from_parts strips whitespace; same_as compares case-insensitively."""
    bi = BackupInstanceId.from_parts(" sub-1 ", "rg-1", "vault-1", "server-1-abc")
    assert str(bi) == BI
    assert bi.same_as(BackupInstanceId.parse(BI.upper().replace("/SUBSCRIPTIONS", "/subscriptions")))


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("subscriptions/x", "must start with /subscriptions/"),
        ("/subscriptions/s/providers/Microsoft.DataProtection/backupVaults/v/backupInstances/b",
         "resourceGroups segment missing"),
        ("/subscriptions/s/resourceGroups/rg/provider/Microsoft.DataProtection/backupVaults/v/backupInstances/b",
         "providers segment missing"),
        ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v/backupInstances/b",
         "provider must be Microsoft.DataProtection"),
        (VAULT, "backupInstances segment missing"),
        (VAULT + "/backupInstances/", "backupInstances name missing"),
        (VAULT + "/backupInstances/b/extra", "unexpected segments"),
        ("/subscriptions//resourceGroups/rg", "subscriptions name missing"),
    ],
)
def test_parse_errors_name_the_part(text: str, needle: str) -> None:
    """Every malformed id raises ArmIdError (a ValueError) naming what is wrong."""
    with pytest.raises(ArmIdError, match=needle):
        BackupInstanceId.parse(text)


def test_bad_characters_and_non_strings() -> None:
    """Names with URL-breaking characters are refused; non-strings too."""
    with pytest.raises(ValueError, match="backupInstanceName"):
        BackupInstanceId.from_parts("s", "rg", "v", "a b")
    with pytest.raises(ValueError, match="vaultName"):
        VaultId("s", "rg", "")
    with pytest.raises(ValueError):
        BackupInstanceId.parse(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="longer"):
        VaultId("s", "rg", "v" * 300)


def test_vault_parse() -> None:
    """Vault ids parse; extra segments are refused."""
    assert str(VaultId.parse(VAULT + "/")) == VAULT
    with pytest.raises(ArmIdError, match="unexpected segments"):
        VaultId.parse(BI)
    with pytest.raises(ArmIdError, match="backupVaults"):
        VaultId.parse("/subscriptions/s/resourceGroups/rg/providers/Microsoft.DataProtection")


def test_recovery_point_id() -> None:
    """Recovery point ids parse to their backup instance and name."""
    rp = RecoveryPointId.parse(BI + "/recoveryPoints/rp-1")
    assert rp.backup_instance == BackupInstanceId.parse(BI)
    assert rp.recovery_point_id == "rp-1" and str(rp) == BI + "/recoveryPoints/rp-1" == rp.path
    with pytest.raises(ArmIdError, match="recoveryPoints segment missing"):
        RecoveryPointId.parse(BI + "/points/rp-1")
    with pytest.raises(ArmIdError, match="unexpected"):
        RecoveryPointId.parse(BI + "/recoveryPoints/rp-1/x")


def test_job_guid_accepts_both_forms() -> None:
    """Full ARM job id (any casing of Backupvaults) or bare GUID give the last segment."""
    guid = "c4bd49a1-0dd0-4f6e-a1b3-8d0a0b6a0f11"
    assert job_guid(guid) == guid
    assert job_guid(f"{VAULT}/backupJobs/{guid}") == guid
    assert job_guid(f"{VAULT.replace('backupVaults', 'Backupvaults')}/backupJobs/{guid}/") == guid
    assert job_guid("c60cb49-63e8-4b21-b9bd-26277b3fdfae") == "c60cb49-63e8-4b21-b9bd-26277b3fdfae"


@pytest.mark.parametrize("bad", ["", "   ", f"{VAULT}/backupInstances/x", "a b"])
def test_job_guid_rejects(bad: str) -> None:
    """Empty ids, ids that are not job ids, and bad characters are refused."""
    with pytest.raises(ArmIdError):
        job_guid(bad)


_name = st.text(alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), whitelist_characters="-_.()"),
                min_size=1, max_size=40).filter(lambda s: s.strip() == s)


@given(_name, _name, _name, _name)
def test_round_trip_property(sub: str, rg: str, vault: str, name: str) -> None:
    """parse(str(x)) == x for any valid names."""
    bi = BackupInstanceId(sub, rg, vault, name)
    assert BackupInstanceId.parse(str(bi)) == bi
    assert VaultId.parse(str(bi.vault)) == bi.vault
