using VisualSearch.BrowserTests.Infrastructure;

namespace VisualSearch.BrowserTests;

/// <summary>
/// The search page in Debian's chromium, driven by browser/search.spec.mjs (playwright-core): upload an edited
/// copy of a sample photo, see its original first, click a result and see a new search run, change k, filter by
/// type, read API errors in words, add the image to the index, and fit a phone-sized screen. Saves a screenshot.
/// </summary>
public sealed class SearchPageInBrowserTests
{
    private const string Chromium = "/usr/bin/chromium";
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    [Fact]
    public async Task An_edited_photo_finds_its_original_first_and_a_clicked_result_runs_a_new_search()
    {
        Assert.True(File.Exists(Chromium),
            $"{Chromium} is missing: the browser test needs Debian's chromium. Install it with `apt-get install -y chromium` (.ci/run does this when it is missing).");
        var playwright = Path.Combine(Repo.Root, "node_modules", "playwright-core", "package.json");
        Assert.True(File.Exists(playwright), $"{playwright} is missing: run `npm ci` in {Repo.Root} (package.json lists playwright-core).");

        await using var host = await PageHost.StartAsync(Repo.Photos, Repo.PhotoNames());
        var artifacts = Path.Combine(AppContext.BaseDirectory, "browser-artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "search.png");
        File.Delete(screenshot);

        var script = Path.Combine(Repo.Root, "tests", "VisualSearch.BrowserTests", "browser", "search.spec.mjs");
        var (exitCode, output) = await NodeScript.RunAsync(script,
            [host.BaseAddress.ToString(), Repo.Query("chelsea-edited.jpg"), screenshot, "chelsea.png"], TimeSpan.FromMinutes(4));

        Assert.True(exitCode == 0, $"search.spec.mjs failed (exit code {exitCode}):\n{output}");
        Assert.True(File.Exists(screenshot), $"No screenshot at {screenshot}:\n{output}");
        var png = await File.ReadAllBytesAsync(screenshot);
        Assert.True(png.Length > 10_000 && png.AsSpan().StartsWith(PngSignature), $"{screenshot} is not a PNG screenshot ({png.Length} bytes).");

        // docs/screenshot.png (shown in the README) is refreshed on request only, so a test run leaves the tree clean.
        if (Environment.GetEnvironmentVariable("VSEARCH_UPDATE_SCREENSHOT") == "1")
            File.Copy(screenshot, Path.Combine(Repo.Root, "docs", "screenshot.png"), overwrite: true);
    }
}
