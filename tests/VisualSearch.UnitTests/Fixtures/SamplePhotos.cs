namespace VisualSearch.UnitTests.Fixtures;

/// <summary>The CC0 / public-domain photos of samples/photos, copied next to the test assembly (fixtures/).</summary>
public static class SamplePhotos
{
    public static readonly string[] All =
    [
        "astronaut.png", "brick.png", "camera.png", "chelsea.png",
        "clock_motion.png", "coffee.png", "hubble_deep_field.jpg", "retina.jpg",
    ];

    public static string PathOf(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", name);

    public static byte[] Read(string name) => File.ReadAllBytes(PathOf(name));
}
