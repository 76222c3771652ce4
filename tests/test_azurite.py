"""The shared Azurite fixture really serves Blob, Queue and Table storage."""

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient

from devhost.azurite import Azurite


def test_azurite_serves_blob_queue_and_table(azurite: Azurite) -> None:
    """A blob, a queue message and a table entity round-trip through the real emulator."""
    conn = azurite.connection_string
    container = BlobServiceClient.from_connection_string(conn).create_container("smoke")
    container.upload_blob("a.txt", b"hello")
    assert container.download_blob("a.txt").readall() == b"hello"

    queue = QueueClient.from_connection_string(conn, "smoke")
    queue.create_queue()
    queue.send_message("ping")
    assert [m.content for m in queue.receive_messages()] == ["ping"]

    table = TableServiceClient.from_connection_string(conn).create_table("smoke")
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "value": 7})
    assert table.get_entity("p", "r")["value"] == 7
