using VisualSearch.Indexing;

namespace VisualSearch.Ingestion;

/// <summary>
/// Where clients upload: hands out short-lived upload URLs for server-chosen names, and tells what became of
/// an upload. Declared here so that the HTTP API (VisualSearch.Api) uses it and the storage adapter
/// (VisualSearch.Blobs) implements it without either referencing the other.
/// </summary>
public interface IUploadStore
{
    /// <summary>Chooses a new blob name and signs a URL that can only create or overwrite that blob, for a short time.</summary>
    Task<UploadGrant> IssueAsync(UploadIntent intent, CancellationToken cancellationToken);

    /// <summary>Whether the upload <paramref name="id"/> has arrived, and whether ingestion refused it.</summary>
    Task<UploadState> GetStateAsync(string id, CancellationToken cancellationToken);
}

/// <summary>A validated upload request.</summary>
/// <param name="ContentType">A supported image media type (the API checks it), or null if the client named none.</param>
/// <param name="Extension">".jpg", ".png", ... matching <paramref name="ContentType"/>, or "".</param>
/// <param name="Metadata">Allow-listed keys (<see cref="SearchFilter.TagFields"/>) with validated values.</param>
public sealed record UploadIntent(string? ContentType, string Extension, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>The signed-in caller, whose prefix (<c>users/&lt;owner&gt;/</c>) the blob name gets; null for the single-user local host.</summary>
    public string? Owner { get; init; }
}

/// <summary>A signed upload: the item id the image will have, the URL, and the headers the PUT must carry.</summary>
public sealed record UploadGrant(string Id, Uri Url, DateTimeOffset ExpiresOn, IReadOnlyDictionary<string, string> Headers);

public enum UploadProgress
{
    /// <summary>Nothing has been uploaded under this id (yet), or the id was never issued.</summary>
    Missing,

    /// <summary>The blob exists; ingestion has not indexed or refused it (yet).</summary>
    Uploaded,

    /// <summary>Ingestion refused this version of the blob; the reason is remembered beside it.</summary>
    Rejected,
}

public sealed record UploadState(UploadProgress Progress, string? Reason = null, string? Detail = null);
