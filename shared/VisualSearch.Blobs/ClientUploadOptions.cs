using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Blobs;

/// <summary>Client uploads with signed URLs. Section "Uploads".</summary>
public sealed class ClientUploadOptions
{
    public const string SectionName = "Uploads";

    /// <summary>How long an upload URL may be used (default 5 minutes, at most 1 hour; seconds are allowed for tests).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan UrlLifetime { get; set; } = TimeSpan.FromMinutes(5);
}
