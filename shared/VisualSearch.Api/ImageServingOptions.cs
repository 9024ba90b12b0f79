namespace VisualSearch.Api;

/// <summary>Serving originals and thumbnails, and where local images live. Section "Images".</summary>
public sealed class ImageServingOptions
{
    public const string SectionName = "Images";

    /// <summary>
    /// Local host: the folder that <c>vsearch index</c> read, under which the ids of "file" items are relative
    /// paths. Unset: the folder <c>vsearch index</c> recorded in the index directory.
    /// </summary>
    public string? Root { get; set; }

    /// <summary>
    /// Directory of generated thumbnails (each generated once). Unset: <c>thumbnails/</c> in the index directory
    /// on the local host, a folder under the temporary directory elsewhere.
    /// </summary>
    public string? ThumbnailCache { get; set; }

    /// <summary>How long browsers may keep an image or thumbnail before revalidating it (ETag). Default one day.</summary>
    public TimeSpan MaxAge { get; set; } = TimeSpan.FromDays(1);
}
