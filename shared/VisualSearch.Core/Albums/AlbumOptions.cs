using System.ComponentModel.DataAnnotations;

namespace VisualSearch.Albums;

/// <summary>Shared albums. Section "Albums".</summary>
public sealed class AlbumOptions
{
    public const string SectionName = "Albums";

    /// <summary>The embedded host's shares file. Empty: <c>&lt;LocalIndex:Path&gt;/albums/shares.json</c>.</summary>
    public string Path { get; set; } = "";

    /// <summary>
    /// How long one process reuses the shares it read (0: read on every request). A change made through this process
    /// is seen at once; one made through another instance (several Functions instances) within this time.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan CacheFor { get; set; } = TimeSpan.FromSeconds(5);
}
