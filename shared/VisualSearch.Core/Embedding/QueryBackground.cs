namespace VisualSearch.Embedding;

/// <summary>
/// What a query's flat background does in the feature-map descriptor (issue 14, docs/quality.md section 7g; queries only,
/// stored vectors never change): the background is a near-constant colour connected to the image's border in a shape that
/// masks and players add (<see cref="BorderBackground.Find"/>: the white corners of a detail cut through a circle, letterbox
/// bars), which a stored image that holds the same picture does not show.
/// </summary>
public enum QueryBackgroundMode
{
    /// <summary>The query is embedded as a stored item is (the default).</summary>
    None,

    /// <summary>The background's pixels enter the network as the mean pixel (zero after the mean subtraction).</summary>
    Fill,

    /// <summary>Only the map cells whose block of the image is mostly not background are pooled (<see cref="BorderBackground.KeptCells"/>).</summary>
    Pool,

    /// <summary><see cref="Fill"/> and <see cref="Pool"/>.</summary>
    FillAndPool,

    /// <summary>
    /// The query is embedded from the picture inside its background alone (the rectangle of <see cref="QueryBackgroundShape"/>): for
    /// a circular detail the square inscribed in the circle at the query's own scale, for letterbox bars the picture between
    /// them at the encoder's input size.
    /// </summary>
    Crop,

    /// <summary>
    /// The query keeps two views (docs/quality.md section 7i): the whole query, embedded as a stored item is, which alone
    /// searches the items' own vectors (a whole-image copy is answered as with <see cref="None"/>), and the picture inside
    /// its background as <see cref="Crop"/> makes it, which the whole-first search's detail-region fallback asks
    /// (<c>Search:RegionFallbackBelow</c>). Needs detail regions (<c>Encoder:DetailRegionSide</c>).
    /// </summary>
    CropView,
}

/// <summary>The shapes of background <see cref="BorderBackground.Find"/> recognises.</summary>
public enum BackgroundShapeKind
{
    /// <summary>The corners outside the circle inscribed in a square (or nearly square) image: a detail cut through a circular mask.</summary>
    EllipseCorners,

    /// <summary>Bars of equal size at two opposite sides (letterbox, pillarbox).</summary>
    Bars,
}

/// <summary>A query's background: its shape, its pixels (row-major) and the largest upright rectangle of picture inside it.</summary>
public sealed record QueryBackgroundShape(BackgroundShapeKind Kind, bool[] Mask, int X, int Y, int Width, int Height);

/// <summary>
/// Pure functions that find an image's flat background (the pixels of one near-constant colour connected to the border, in
/// the shape of a circle's corners or of bars) and the map cells that are mostly not background.
/// </summary>
public static class BorderBackground
{
    /// <summary>The largest difference of a channel (0-255) from the background's colour that still counts as background (JPEG ringing on white stays within it).</summary>
    public const int DefaultTolerance = 12;

    /// <summary>The share of the border's pixels the background colour must hold to count (a circle inscribed in the image leaves it about 0.85; letterbox bars 0.6 and more).</summary>
    public const double DefaultMinBorderShare = 0.5;

    /// <summary>Below this share of the image the background is left alone (a few border pixels of one colour are no background).</summary>
    public const double MinAreaShare = 0.02;

    /// <summary>Above this share of the image the picture is all but flat: nothing is masked (nothing would be left to describe).</summary>
    public const double MaxAreaShare = 0.95;

    /// <summary>For <see cref="KeptCells"/>: a cell is kept when at least this share of its block is not background.</summary>
    public const double DefaultKeepShare = 0.5;

    /// <summary>
    /// The background of an image (<paramref name="rgb"/>, interleaved, row-major) in one of the shapes that masks and players
    /// add around a picture: the <b>corners outside the circle inscribed in a square image</b> (a detail cut through a
    /// circular mask: every pixel outside the circle, recognised by the step in the share of the border's colour at the
    /// circle, see <see cref="Find"/>) or <b>bars of equal height at the top and bottom</b> (letterbox; or of equal width left
    /// and right, pillarbox: their pixels within <paramref name="tolerance"/> of the border's dominant colour and connected,
    /// 4-neighbours, to the border through such pixels, <see cref="FlatBorder"/>). Empty (all false) when neither shape is
    /// there: a flat background of another shape (a cut-out or an icon on white, a plain wallpaper, a sky) is part of the
    /// picture, which the stored image shows too (docs/quality.md section 7g measured what masking it costs).
    /// </summary>
    public static bool[] Detect(ReadOnlySpan<byte> rgb, int width, int height, int tolerance = DefaultTolerance, double minBorderShare = DefaultMinBorderShare) =>
        Find(rgb, width, height, tolerance, minBorderShare)?.Mask ?? new bool[width * height];

    /// <summary>
    /// <see cref="Detect"/>'s background with its shape and the largest upright rectangle of picture inside it (for the
    /// circle, the square inscribed in it: sides divided by the square root of 2), or null when there is none. The circle
    /// is found by its geometry (<see cref="Circle"/>: the border's colour everywhere past the circle and its JPEG ringing,
    /// a step down just inside it), whatever the picture does next to its edge and whatever <paramref name="minBorderShare"/>
    /// says; the bars by the flood of <see cref="FlatBorder"/>.
    /// </summary>
    public static QueryBackgroundShape? Find(ReadOnlySpan<byte> rgb, int width, int height, int tolerance = DefaultTolerance, double minBorderShare = DefaultMinBorderShare)
    {
        CheckArguments(rgb, width, height, tolerance, minBorderShare);
        if (Circle(rgb, width, height, tolerance) is { } circle) return circle;
        // The flood is for the bars only: a circle, found by its geometry, never needs it.
        var flat = FlatBorder(rgb, width, height, tolerance, minBorderShare);
        if (!flat.AsSpan().Contains(true)) return null;
        var mask = new bool[flat.Length];
        if (Bars(flat, width, height, mask, out var top, out var bottom, out var left, out var right))
            return new QueryBackgroundShape(BackgroundShapeKind.Bars, mask, left, top, width - left - right, height - top - bottom);
        return null;
    }

    /// <summary>
    /// Every pixel within <paramref name="tolerance"/> of the border's dominant colour and connected (4-neighbours) to the
    /// border through such pixels, whatever its shape. Empty (all false) when that colour holds less than
    /// <paramref name="minBorderShare"/> of the border's pixels, or the area would be less than <see cref="MinAreaShare"/> or
    /// more than <see cref="MaxAreaShare"/> of the image.
    /// </summary>
    public static bool[] FlatBorder(ReadOnlySpan<byte> rgb, int width, int height, int tolerance = DefaultTolerance, double minBorderShare = DefaultMinBorderShare)
    {
        CheckArguments(rgb, width, height, tolerance, minBorderShare);
        var mask = new bool[width * height];
        var border = BorderPixels(width, height);
        if (DominantColour(rgb, border, tolerance) is not { } colour) return mask;

        var near = 0;
        foreach (var p in border) if (Near(rgb, p, colour, tolerance)) near++;
        if (near < minBorderShare * border.Count) return mask;

        // Flood from every border pixel of that colour through pixels of that colour (not neighbour to neighbour, so that
        // a gradient such as a sky is not followed away from the colour).
        var queue = new Queue<int>();
        foreach (var p in border)
        {
            if (mask[p] || !Near(rgb, p, colour, tolerance)) continue;
            mask[p] = true;
            queue.Enqueue(p);
        }

        var count = queue.Count;
        Span<int> neighbours = stackalloc int[4];
        while (queue.TryDequeue(out var p))
        {
            int x = p % width, y = p / width, n = 0;
            if (x > 0) neighbours[n++] = p - 1;
            if (x < width - 1) neighbours[n++] = p + 1;
            if (y > 0) neighbours[n++] = p - width;
            if (y < height - 1) neighbours[n++] = p + width;
            foreach (var q in neighbours[..n])
            {
                if (mask[q] || !Near(rgb, q, colour, tolerance)) continue;
                mask[q] = true;
                count++;
                queue.Enqueue(q);
            }
        }

        if (count < MinAreaShare * mask.Length || count > MaxAreaShare * mask.Length) Array.Clear(mask);
        return mask;
    }

    /// <summary>
    /// The cells of a <paramref name="mapWidth"/> x <paramref name="mapHeight"/> map (row-major) that span an image of
    /// <paramref name="pixelWidth"/> x <paramref name="pixelHeight"/> whose block (the same blocks as
    /// <see cref="FeatureMapPooling.NonFlatCells"/>) is at least <paramref name="keepShare"/> not background.
    /// </summary>
    public static bool[] KeptCells(ReadOnlySpan<bool> background, int pixelWidth, int pixelHeight, int mapWidth, int mapHeight, double keepShare = DefaultKeepShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(pixelHeight, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapWidth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(mapHeight, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(keepShare);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(keepShare, 1);
        if (background.Length != pixelWidth * pixelHeight) throw new ArgumentException($"Expected a mask of {pixelWidth * pixelHeight} pixels.", nameof(background));
        var keep = new bool[mapWidth * mapHeight];
        for (var cy = 0; cy < mapHeight; cy++)
        {
            int y0 = cy * pixelHeight / mapHeight, y1 = Math.Min(pixelHeight, Math.Max(y0 + 1, (cy + 1) * pixelHeight / mapHeight));
            for (var cx = 0; cx < mapWidth; cx++)
            {
                int x0 = cx * pixelWidth / mapWidth, x1 = Math.Min(pixelWidth, Math.Max(x0 + 1, (cx + 1) * pixelWidth / mapWidth));
                int picture = 0, all = 0;
                for (var y = y0; y < y1; y++)
                {
                    foreach (var b in background.Slice(y * pixelWidth + x0, x1 - x0)) if (!b) picture++;
                    all += x1 - x0;
                }

                keep[cy * mapWidth + cx] = all > 0 && picture >= keepShare * all;
            }
        }

        return keep;
    }

    /// <summary>At most this share of the picture between letterbox bars may be flat too (more: the flat colour is the picture's own background).</summary>
    private const double MaxFlatInside = 0.02;

    /// <summary>A circle is looked for only in images whose longer side is at most this many times the shorter (a circular mask's detail is square).</summary>
    private const double MaxCircleAspect = 1.1;

    /// <summary>Nor in images whose shorter side is less than this (the rings below would be a pixel or less apart).</summary>
    private const int MinCircleSide = 32;

    /// <summary>The rings <see cref="Circle"/> measures: 1% of the radius wide, the last holding everything beyond (a square's corners reach 1.414).</summary>
    private const int Rings = 150;

    /// <summary>
    /// How far past the circle, in hundredths of its radius, the flat colour may start (the antialiased edge and JPEG's
    /// ringing, which a small detail's enlargement to the encoder's input widens in proportion: 11 px of a 224 px query).
    /// </summary>
    private const int MaxRinging = 10;

    /// <summary>Past the circle and its ringing, at least this share of the pixels must be the flat colour (the corners of a mask).</summary>
    private const double MinFlatOutside = 0.99;

    /// <summary>
    /// Just inside the circle (0.94 to 0.99 of its radius) at most this share may be the flat colour: the picture must
    /// reach the edge on a tenth of it at least, where the step from picture to flat colour marks the circle.
    /// </summary>
    private const double MaxFlatAtEdge = 0.9;

    /// <summary>
    /// And the flat share just inside the circle may exceed the share further in (0.80 to 0.92) by at most this: a cut-out's
    /// white grows towards the image's border, a circular mask's stops at its edge.
    /// </summary>
    private const double MaxFlatRise = 0.1;

    /// <summary>
    /// The corners outside the circle inscribed in a square-ish image (<see cref="MaxCircleAspect"/>; the ellipse inscribed in
    /// it, measured in its normalised radius), recognised by the step in the flat share at the circle (issue 14,
    /// docs/quality.md section 7j): the share of the pixels within <paramref name="tolerance"/> of the border's dominant
    /// colour is measured on rings of 1% of the radius; past the circle and at most <see cref="MaxRinging"/> hundredths of
    /// ringing it must be <see cref="MinFlatOutside"/>, just inside it at most <see cref="MaxFlatAtEdge"/> and no more than
    /// <see cref="MaxFlatRise"/> above the share further in. No flood: a detail whose picture is white next to the edge (the
    /// flat colour going on inside) is a circle still, as is a small one whose enlarged ringing reaches past a few pixels.
    /// The mask is every pixel outside the circle (its ringing included), the rectangle the square inscribed in it.
    /// </summary>
    private static QueryBackgroundShape? Circle(ReadOnlySpan<byte> rgb, int width, int height, int tolerance)
    {
        if (Math.Max(width, height) > MaxCircleAspect * Math.Min(width, height) || Math.Min(width, height) < MinCircleSide) return null;
        if (DominantColour(rgb, BorderPixels(width, height), tolerance) is not { } colour) return null;
        var all = new int[Rings + 1];
        var flat = new int[Rings + 1];
        var mask = new bool[width * height];
        double a = width / 2.0, b = height / 2.0;
        var flatPixels = 0;
        for (var y = 0; y < height; y++)
        {
            var dy = (y + 0.5 - b) / b;
            for (var x = 0; x < width; x++)
            {
                var dx = (x + 0.5 - a) / a;
                var q = dx * dx + dy * dy;
                var p = y * width + x;
                var ring = Math.Min(Rings, (int)(Math.Sqrt(q) * 100));
                all[ring]++;
                mask[p] = q > 1;
                if (!Near(rgb, p, colour, tolerance)) continue;
                flat[ring]++;
                flatPixels++;
            }
        }

        // The flat share of the rings [from, to) (in hundredths of the radius); 1 for rings without pixels.
        double Share(int from, int to)
        {
            long n = 0, f = 0;
            for (var i = from; i < Math.Min(to, Rings + 1); i++) (n, f) = (n + all[i], f + flat[i]);
            return n == 0 ? 1 : (double)f / n;
        }

        var outside = false;
        for (var ringing = 0; ringing <= MaxRinging && !outside; ringing++) outside = Share(100 + ringing, Rings + 1) >= MinFlatOutside;
        var edge = Share(94, 99);
        if (!outside || edge > MaxFlatAtEdge || edge > Share(80, 92) + MaxFlatRise || flatPixels > MaxAreaShare * mask.Length) return null;
        int w = Math.Max(1, (int)Math.Round(width / Math.Sqrt(2))), h = Math.Max(1, (int)Math.Round(height / Math.Sqrt(2)));
        return new QueryBackgroundShape(BackgroundShapeKind.EllipseCorners, mask, (width - w) / 2, (height - h) / 2, w, h);
    }

    /// <summary>
    /// Letterbox or pillarbox bars: flat rows at the top and the bottom of about the same height (within 2 px or 10%), no
    /// flat column at either side (or the same with rows and columns swapped), together at least <see cref="MinAreaShare"/>
    /// of the image, and at most <see cref="MaxFlatInside"/> of the picture between them flat: <paramref name="mask"/> gets the bars.
    /// </summary>
    private static bool Bars(bool[] flat, int width, int height, bool[] mask, out int top, out int bottom, out int left, out int right)
    {
        var total = flat.Count(f => f);
        top = Lines(flat, width, height, rows: true, fromStart: true);
        bottom = Lines(flat, width, height, rows: true, fromStart: false);
        left = Lines(flat, width, height, rows: false, fromStart: true);
        right = Lines(flat, width, height, rows: false, fromStart: false);
        static bool Pair(int one, int other, int across) => one >= 1 && other >= 1 && Math.Abs(one - other) <= Math.Max(2, 0.1 * Math.Max(one, other)) && across == 0;
        Array.Clear(mask);
        if (Pair(top, bottom, left + right) && (top + bottom) * width >= MinAreaShare * flat.Length
            && total - (top + bottom) * width <= MaxFlatInside * (height - top - bottom) * width)
        {
            for (var y = 0; y < height; y++)
                if (y < top || y >= height - bottom) Array.Fill(mask, true, y * width, width);
            (left, right) = (0, 0);
            return true;
        }

        if (Pair(left, right, top + bottom) && (left + right) * height >= MinAreaShare * flat.Length
            && total - (left + right) * height <= MaxFlatInside * (width - left - right) * height)
        {
            for (var y = 0; y < height; y++)
                for (var x = 0; x < width; x++) mask[y * width + x] = x < left || x >= width - right;
            (top, bottom) = (0, 0);
            return true;
        }

        return false;
    }

    /// <summary>How many rows (or columns) from one side are flat in at least 98% of their pixels, at most half the image.</summary>
    private static int Lines(bool[] flat, int width, int height, bool rows, bool fromStart)
    {
        var (count, length) = rows ? (height, width) : (width, height);
        var lines = 0;
        for (var i = 0; i < count / 2; i++)
        {
            var line = fromStart ? i : count - 1 - i;
            var flatPixels = 0;
            for (var j = 0; j < length; j++) if (flat[rows ? line * width + j : j * width + line]) flatPixels++;
            if (flatPixels < 0.98 * length) break;
            lines++;
        }

        return lines;
    }

    /// <summary>The indexes of the border's pixels, each once (top and bottom rows, then the columns' inner pixels).</summary>
    private static List<int> BorderPixels(int width, int height)
    {
        var border = new List<int>(2 * (width + height));
        for (var x = 0; x < width; x++)
        {
            border.Add(x);
            if (height > 1) border.Add((height - 1) * width + x);
        }

        for (var y = 1; y < height - 1; y++)
        {
            border.Add(y * width);
            if (width > 1) border.Add(y * width + width - 1);
        }

        return border;
    }

    /// <summary>
    /// The colour most border pixels are near: the mean of the border pixels within <paramref name="tolerance"/> of the
    /// fullest bin of a coarse histogram (16 levels per channel), or null for an empty border.
    /// </summary>
    private static (int R, int G, int B)? DominantColour(ReadOnlySpan<byte> rgb, List<int> border, int tolerance)
    {
        if (border.Count == 0) return null;
        var bins = new Dictionary<int, int>();
        foreach (var p in border)
        {
            var bin = (rgb[3 * p] >> 4 << 8) | (rgb[3 * p + 1] >> 4 << 4) | (rgb[3 * p + 2] >> 4);
            bins[bin] = bins.GetValueOrDefault(bin) + 1;
        }

        var best = bins.MaxBy(b => (b.Value, -b.Key)).Key;
        var centre = (R: ((best >> 8) << 4) + 8, G: (((best >> 4) & 15) << 4) + 8, B: ((best & 15) << 4) + 8);
        long r = 0, g = 0, b = 0, n = 0;
        foreach (var p in border)
        {
            if (!Near(rgb, p, centre, Math.Max(tolerance, 8))) continue;
            r += rgb[3 * p];
            g += rgb[3 * p + 1];
            b += rgb[3 * p + 2];
            n++;
        }

        return n == 0 ? centre : ((int)Math.Round((double)r / n), (int)Math.Round((double)g / n), (int)Math.Round((double)b / n));
    }

    private static bool Near(ReadOnlySpan<byte> rgb, int pixel, (int R, int G, int B) colour, int tolerance) =>
        Math.Abs(rgb[3 * pixel] - colour.R) <= tolerance && Math.Abs(rgb[3 * pixel + 1] - colour.G) <= tolerance && Math.Abs(rgb[3 * pixel + 2] - colour.B) <= tolerance;

    /// <summary>The arguments <see cref="Find"/> and <see cref="FlatBorder"/> take: an RGB image of its size, a tolerance 0-255, a share 0-1.</summary>
    private static void CheckArguments(ReadOnlySpan<byte> rgb, int width, int height, int tolerance, double minBorderShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(tolerance);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(tolerance, 255);
        ArgumentOutOfRangeException.ThrowIfLessThan(minBorderShare, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBorderShare, 1);
        if (rgb.Length != width * height * 3) throw new ArgumentException($"Expected {width * height * 3} RGB bytes.", nameof(rgb));
    }
}
