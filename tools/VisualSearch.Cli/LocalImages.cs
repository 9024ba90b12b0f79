using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using VisualSearch.Api;
using VisualSearch.Imaging;
using VisualSearch.Index.Local;
using VisualSearch.Ingestion;

namespace VisualSearch.Cli;

/// <summary>
/// Where the local host finds originals: "file" items under the folder <c>vsearch index</c> read (Images:Root,
/// or the one it recorded in the index directory), page uploads in &lt;index&gt;/uploads/; thumbnails are cached in
/// &lt;index&gt;/thumbnails/ unless Images:ThumbnailCache says otherwise.
/// </summary>
public static class LocalImages
{
    /// <summary>The file in the index directory that names the folder of "file" items.</summary>
    public const string RootFile = "images-root";

    public const string FileSource = "file";

    /// <summary>
    /// Ingests one local file as a "file" item, as <c>vsearch index</c> and <c>reindex --from-folder</c> do: the id
    /// is also its name, and the file's length and last write time stand in for a blob's ETag (unchanged files are skipped).
    /// <paramref name="owner"/> (<c>vsearch index --owner</c>) owns the record; null: no one (visible to everyone scope only).
    /// </summary>
    public static Task<IngestResult> IngestFileAsync(this IngestionService ingestion, string path, string id, CancellationToken cancellationToken = default, string? owner = null)
    {
        ArgumentNullException.ThrowIfNull(ingestion);
        var info = new FileInfo(path);
        var request = new IngestRequest
        {
            Id = id,
            Source = FileSource,
            Name = id,
            ETag = $"{info.Length:x}-{info.LastWriteTimeUtc.Ticks:x}",
            Length = info.Length,
            UploadedAt = info.LastWriteTimeUtc,
            Owner = owner,
        };
        return ingestion.IngestAsync(request, _ => Task.FromResult<Stream>(File.OpenRead(info.FullName)), cancellationToken);
    }

    public static IHostApplicationBuilder AddLocalImages(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var indexRoot = Path.GetFullPath(builder.Configuration[$"{LocalIndexOptions.SectionName}:Path"] ?? new LocalIndexOptions().Path);
        builder.Services.PostConfigure<ImageServingOptions>(o =>
        {
            if (string.IsNullOrWhiteSpace(o.ThumbnailCache)) o.ThumbnailCache = Path.Combine(indexRoot, "thumbnails");
        });

        var uploads = new LocalUploads(new FolderImageStore(LocalUploads.Source, Path.Combine(indexRoot, "uploads")));
        builder.Services.AddSingleton(uploads);
        builder.Services.AddSingleton<IImageStore>(uploads.Store);
        var root = builder.Configuration[$"{ImageServingOptions.SectionName}:Root"] is { Length: > 0 } configured ? configured : ReadRecordedRoot(indexRoot);
        if (root is not null) builder.Services.AddSingleton<IImageStore>(new FolderImageStore(FileSource, root));
        return builder;
    }

    /// <summary>Remembers the folder that was indexed, so that <c>vsearch serve</c> over this index can show its images.</summary>
    public static void RecordRoot(string indexRoot, string imagesRoot)
    {
        Directory.CreateDirectory(indexRoot);
        var path = Path.Combine(indexRoot, RootFile);
        var temporary = path + ".tmp";
        File.WriteAllText(temporary, Path.GetFullPath(imagesRoot) + "\n");
        File.Move(temporary, path, overwrite: true);
    }

    private static string? ReadRecordedRoot(string indexRoot)
    {
        try
        {
            var text = File.ReadAllText(Path.Combine(indexRoot, RootFile)).Trim();
            return text.Length > 0 ? text : null;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
