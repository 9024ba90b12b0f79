using System.ComponentModel.DataAnnotations;
using VisualSearch.Ingestion;

namespace VisualSearch.Blobs;

/// <summary>
/// Where uploads land. Section "BlobSource". Either a connection string (Azurite: UseDevelopmentStorage=true)
/// or, keyless, ServiceUri with a managed identity (ClientId for a user-assigned one).
/// </summary>
public sealed class BlobSourceOptions
{
    public const string SectionName = "BlobSource";

    /// <summary>A storage connection string; the local runner defaults it to Azurite's (UseDevelopmentStorage=true).</summary>
    public string? ConnectionString { get; set; }

    /// <summary>https://ACCOUNT.blob.core.windows.net, used when ConnectionString is empty.</summary>
    public Uri? ServiceUri { get; set; }

    /// <summary>Client id of a user-assigned managed identity (optional).</summary>
    public string? ClientId { get; set; }

    /// <summary>The container of uploaded images.</summary>
    [Required, RegularExpression(ItemIds.ContainerNamePattern)]
    public string Container { get; set; } = "images";

    /// <summary>Local host only: poll the container for new, changed and deleted blobs.</summary>
    public bool Watch { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:00.100", "01:00:00")]
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Retries of one storage call (keep low locally: a missing emulator should fail fast).</summary>
    [Range(0, 10)]
    public int MaxRetries { get; set; } = 2;
}
