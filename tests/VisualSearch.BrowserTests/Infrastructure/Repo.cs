namespace VisualSearch.BrowserTests.Infrastructure;

/// <summary>The repository root (node_modules, the browser script, docs/) and the fixtures copied to the output.</summary>
internal static class Repo
{
    private static readonly Lazy<string> LazyRoot = new(FindRoot);

    public static string Root => LazyRoot.Value;

    /// <summary>The CC0/public-domain photos of samples/photos.</summary>
    public static string Photos => Path.Combine(AppContext.BaseDirectory, "fixtures", "photos");

    /// <summary>Edited copies of some photos (samples/queries), as a user would search with them.</summary>
    public static string Query(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "queries", name);

    public static string Photo(string name) => Path.Combine(Photos, name);

    /// <summary>The indexable photos (not LICENSE.md), by name.</summary>
    public static IReadOnlyList<string> PhotoNames() =>
        Directory.EnumerateFiles(Photos)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(n => n.EndsWith(".png", StringComparison.Ordinal) || n.EndsWith(".jpg", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VisualSearch.sln")) || File.Exists(Path.Combine(dir.FullName, "VisualSearch.slnx")))
                return dir.FullName;
        }

        throw new InvalidOperationException($"No repository root (VisualSearch.sln) above {AppContext.BaseDirectory}.");
    }
}

/// <summary>A temporary directory removed on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory(string prefix)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
