namespace VisualSearch.Ingestion;

/// <summary>
/// What a host does with a blob event. Declared here so that the webhook (VisualSearch.Api) calls it and the
/// storage adapter (VisualSearch.Blobs) implements it without either referencing the other.
/// </summary>
public interface IBlobEventHandler
{
    Task BlobCreatedAsync(string container, string blobName, CancellationToken cancellationToken);

    Task BlobDeletedAsync(string container, string blobName, CancellationToken cancellationToken);
}
